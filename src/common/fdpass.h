/*
 * fdpass.h - one descriptor over a Unix socket, the way OpenSSH passes
 * one (monitor_fdpass.c): SCM_RIGHTS with exactly one byte of data.
 * bulwark-shell, bulwark-dial and ssh's ProxyUseFdpass all speak it.
 * libc only, so that bulwark-dial can carry it without bulwarkcore.
 */
#ifndef BULWARK_COMMON_FDPASS_H
#define BULWARK_COMMON_FDPASS_H

/* 0, or -1 with errno set. Retries EINTR; never raises SIGPIPE. */
int fdpass_send(int sock, int fd);
/* The descriptor received (close-on-exec), or -1 with errno set (EPROTO
 * for anything but one byte and one descriptor). */
int fdpass_recv(int sock);

#endif
