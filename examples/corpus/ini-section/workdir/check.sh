#!/bin/sh
python3 -c 'import configparser; c = configparser.ConfigParser(); c.read("app.ini"); c["server"]["port"]'
