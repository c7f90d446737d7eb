"""The mailbox side: the interface the engine uses, and the EWS adapter."""
