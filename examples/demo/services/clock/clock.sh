#!/bin/sh
# A stand-in service that ticks: its health is a fresh beat file.
while :; do date +%s > beat; sleep 1; done
