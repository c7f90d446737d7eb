"""A loopback Active Directory domain controller over LDAPS, on ldaptor (Twisted)."""

from engine.sandbox.ldap.directory import AdUser
from engine.sandbox.ldap.peer import LdapPeer
from engine.sandbox.ldap.tls import CertificateKind

__all__ = ["AdUser", "CertificateKind", "LdapPeer"]
