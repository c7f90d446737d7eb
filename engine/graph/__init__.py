"""Microsoft Graph, shared by the modules that read or write through it: the HTTP client and
the app registration's sign-in (secret or certificate)."""
