#!/bin/sh
python3 -c 'import ast; ast.parse(open("server.py").read(), "server.py")'
