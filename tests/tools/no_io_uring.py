#!/usr/bin/python3
# no_io_uring.py [--big] PROG [ARGS...] -- runs PROG where io_uring_setup(2) fails with ENOSYS,
# as in a container whose seccomp profile forbids io_uring (Docker's default since 25.0) or on
# a kernel built without it. With --big, only rings of more than 64 entries fail, with ENOMEM:
# a small probe ring works and a worker's ring does not. A seccomp filter, inherited by exec.
import ctypes
import os
import struct
import sys

NR_IO_URING_SETUP = 425  # the same number on every architecture (added after the unification)
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7fff0000
SECCOMP_RET_ERRNO = 0x00050000
ENOSYS = 38
ENOMEM = 12
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGT_K = 0x25
BPF_RET_K = 0x06


def insn(code, jt, jf, k):
    return struct.pack('HBBI', code, jt, jf, k)


big = len(sys.argv) > 1 and sys.argv[1] == '--big'
if big:
    del sys.argv[1]
    prog = b''.join([
        insn(BPF_LD_W_ABS, 0, 0, 0),                     # A = seccomp_data.nr
        insn(BPF_JEQ_K, 0, 3, NR_IO_URING_SETUP),        # io_uring_setup?
        insn(BPF_LD_W_ABS, 0, 0, 16),                    #   A = args[0] (entries, low half)
        insn(BPF_JGT_K, 0, 1, 64),                       #   more than 64?
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOMEM),  # yes: fail with ENOMEM
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),        # run it
    ])
else:
    prog = b''.join([
        insn(BPF_LD_W_ABS, 0, 0, 0),                     # A = seccomp_data.nr
        insn(BPF_JEQ_K, 0, 1, NR_IO_URING_SETUP),        # io_uring_setup?
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS),  # yes: fail with ENOSYS
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),        # no: run it
    ])
buf = ctypes.create_string_buffer(prog)


class SockFprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]


fprog = SockFprog(len(prog) // 8, ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
    sys.exit('no_io_uring: seccomp: %s' % os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
