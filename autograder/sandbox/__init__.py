"""Running untrusted notebooks: the bubblewrap sandbox, its kernel launcher, execution limits, worker pools."""
