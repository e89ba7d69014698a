package org.forwarder.poll;

/** Owner of a registered fd: called at most once per poller pass when the fd has work. */
public interface FdHandler {
    /**
     * The fd is ready and active in some direction, or an error was reported on it. The handler
     * must leave every direction it keeps active either not ready (it met EAGAIN or a short
     * read/write) or having made progress; otherwise the fd is simply offered again next pass.
     */
    void onIo(int fd);
}
