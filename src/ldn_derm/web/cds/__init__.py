"""CDS Hooks 2.0 service: discovery, the three LDN services, feedback, and JWT client trust."""
