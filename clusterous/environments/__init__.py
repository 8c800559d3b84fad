"""Running an environment file's application on a cluster (DESIGN section 4).

``deploy`` turns an Environment into Swarm service specs in dependency order;
``images`` builds and pushes images on the controller; ``files`` moves files
to and from the shared volume /data; ``swarm_apps`` creates, watches and
removes the services; ``tunnels`` keeps SSH tunnels alive in background
processes; ``service`` is the seam the CLI calls. Everything goes through the
controller's SSH and its Docker engine, so it works the same on every provider.
"""
