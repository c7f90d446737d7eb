"""The guided first-time setup of the MS Exchange extension, one step per widget."""
