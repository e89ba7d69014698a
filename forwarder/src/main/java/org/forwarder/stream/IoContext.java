package org.forwarder.stream;

import org.forwarder.io.BufferPool;
import org.forwarder.io.PipePool;
import org.forwarder.io.RawSock;
import org.forwarder.poll.FdTab;
import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.sys.Syscalls;

/**
 * What a {@link Channel} works with, all owned by one event loop: its fd table, syscalls, raw
 * socket layer, buffer and pipe pools and its process counters. Made once per loop and shared by its streams,
 * so the mechanism below needs nothing from the session code above it.
 */
public record IoContext(FdTab fdTab, Syscalls sys, RawSock raw, BufferPool buffers, PipePool pipes,
                        CounterBlock<ProcessCounter> stats) {
}
