"""worker: writes a heartbeat file once a second."""
import time


def beat(path)
    with open(path, "w") as f:
        f.write(str(time.time()))


if __name__ == "__main__":
    while True:
        beat("heartbeat")
        time.sleep(1)
