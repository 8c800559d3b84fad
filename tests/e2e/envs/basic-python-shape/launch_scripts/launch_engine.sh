echo "engine up on $CLUSTEROUS_NODE"
while true; do echo "engine on $CLUSTEROUS_NODE" > "/home/data/engines/$CLUSTEROUS_NODE.txt"; sleep 1; done
