mkdir -p /home/data/engines
echo "basic-python master on $CLUSTEROUS_NODE" > /home/data/engines/index.html
echo "master up on $CLUSTEROUS_NODE"
exec httpd -f -p 8888 -h /home/data/engines
