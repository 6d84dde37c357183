#!/bin/sh
# The script parses.
sh -n < run.sh
