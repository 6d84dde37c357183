#!/bin/sh
python3 -c 'import json; json.load(open("conf/settings.json"))'
