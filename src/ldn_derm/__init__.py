"""ldn-derm: decision support for low-dose naltrexone (LDN) in dermatology."""

__version__ = "0.1.0"
