"""Use cases that span packages (certificates and biometrics and registry), assembled in
the composition root. A use case never imports a router; routers call use cases and
shape the views."""
