"""Active Directory (AD) Sync's pages: the organizations that sync, and one organization's."""
