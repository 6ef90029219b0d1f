#!/usr/bin/python3
# UDP drops in the kernel are counted: a burst into a small receive buffer (udp_rcvbuf) while hbd
# is stopped loses datagrams in the socket, and hbd_udp_dropped_total (SO_RXQ_OVFL) accounts
# for every one: received + dropped = sent.
import os
import signal
import socket
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t

d = t.Daemon('hbd', env={'GWKIT_HBD_UDP_RCVBUF': '4k', 'GWKIT_HBD_STORE': 'no'}, workers=1)
t.like(d.logtext(), r'msg="udp receive buffer" udp_rcvbuf=4096 kernel=\d+', 'udp_rcvbuf applied and logged')
t.is_(d.metric('hbd_udp_dropped_total'), 0.0, 'hbd_udp_dropped_total starts at 0')


def udp_msgs():
    return d.metric('hbd_received_messages_total', {'proto': 'udp'}) or 0


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
N = 2000
d.signal(signal.SIGSTOP)
for i in range(N):
    s.sendto(b'HB burst interval=1h\n', ('127.0.0.1', d.port))
d.signal(signal.SIGCONT)

# Drops are reported with the next datagram that gets in: beat until one is seen.
k = 0


def last_seen():
    global k
    s.sendto(b'HB last interval=1h\n', ('127.0.0.1', d.port))
    k += 1
    return t.wait_for(lambda: d.result('services', {'service': 'last'})['services'], 0.5)


t.ok(t.wait_for(last_seen, 10, 0.01), 'a datagram after the burst gets in')
dropped = d.metric('hbd_udp_dropped_total')
t.ok(dropped > 0, 'the burst overflowed the 4k buffer: %d dropped' % dropped)
t.is_(udp_msgs() + dropped, float(N + k), 'received + dropped = sent (%d + %d = %d)' % (udp_msgs(), dropped, N + k))
t.is_(d.stop(), 0, 'clean stop')

rc, out, err = t.run([t.prog('hbd'), '-n'], env={'GWKIT_HBD_UDP_RCVBUF': 'lots'})
t.is_(rc, 1, 'a bad udp_rcvbuf is refused')
t.done()
