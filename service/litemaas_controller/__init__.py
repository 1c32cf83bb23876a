"""litemaas-controller: deploys and operates LiteMaaS from orders, cluster events and messages."""

__version__ = "0.2.0"
