"""The web layer: thin routers over the domain packages. Nothing below app/web is
imported by domain code."""
