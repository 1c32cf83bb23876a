"""The collection role's interface: the variables an order may set, the labels its objects carry."""
