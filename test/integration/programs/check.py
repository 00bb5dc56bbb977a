# Python under the strict policy (run with python3 -c): threads, a child
# process, a local socket pair.
import socket
import subprocess
import threading

results = []
threads = [threading.Thread(target=results.append, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()

child = subprocess.run(['/bin/echo', 'from child'], capture_output=True, text=True, check=True).stdout.strip()

a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
a.sendall(b'ping')
received = b.recv(4).decode()
a.close()
b.close()

print(f'python: ok ({len(results)} threads, {child}, {received})')
