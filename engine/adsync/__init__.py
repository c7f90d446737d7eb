"""Active Directory (AD) Sync: customer organizations' directory users become PSA contacts."""
