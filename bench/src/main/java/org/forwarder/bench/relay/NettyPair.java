package org.forwarder.bench.relay;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * One relayed connection of {@link NettyRelay}: the client channel and its backend channel, both
 * on the client's event loop, so this state needs no locking.
 *
 * <p>Why it is shaped this way: what the client sends while the backend is connecting is kept
 * (up to 64 KiB, then reading pauses) and written first once it is up; in splice mode spliceTo is
 * queued only after that, so those bytes go ahead of the spliced ones in the same outbound queue.
 * Reading is turned back on only for an input that has not ended (see {@link #resumeReading}),
 * and a read that Netty itself starts on an ended input is dropped on its way out (see
 * {@link Side#read}).
 * An input end is forwarded as shutdownOutput only after an empty write has completed behind
 * everything already queued for the peer, because Netty fails (drops) pending writes when the
 * output is shut down. Anything
 * else that ends a channel before both directions have ended is a failure and resets the other
 * side with SO_LINGER 0.
 */
final class NettyPair {
    /** Bytes read from a client before its backend is connected, beyond which reading pauses. */
    private static final int EARLY_LIMIT = 64 * 1024;
    private static final int DRAIN_CHUNK = 64 * 1024;

    private final EpollSocketChannel client;
    private final boolean splice;
    private EpollSocketChannel backend;
    /** What the client sent before the backend was connected, in order. */
    private final ArrayDeque<Object> early = new ArrayDeque<>();
    private int earlyBytes;
    private boolean clientEndedEarly;
    private int directionsEnded;
    private boolean aborted;

    private NettyPair(EpollSocketChannel client, boolean splice) {
        this.client = client;
        this.splice = splice;
    }

    /** Called when a client channel is set up: connects its backend through {@code bootstrap}. */
    static void connect(EpollSocketChannel client, Bootstrap bootstrap, InetSocketAddress target, boolean splice) {
        NettyPair pair = new NettyPair(client, splice);
        client.pipeline().addLast(pair.new Side(client));
        bootstrap.connect(target).addListener((ChannelFuture f) -> pair.backendConnected(f));
    }

    private void backendConnected(ChannelFuture f) {
        if (!f.isSuccess()) {
            abort();
            return;
        }
        backend = (EpollSocketChannel) f.channel();
        if (aborted || !client.isActive()) {
            reset(backend);
            return;
        }
        backend.pipeline().addLast(new Side(backend));
        for (Object msg; (msg = early.poll()) != null; ) backend.write(msg, backend.voidPromise());
        backend.flush();
        if (splice) {
            if (!clientEndedEarly) client.spliceTo(backend, Integer.MAX_VALUE).addListener(this::spliceEnded);
            backend.spliceTo(client, Integer.MAX_VALUE).addListener(this::spliceEnded);
        }
        if (clientEndedEarly) inputEnded(client);
        else resumeReading(client);
        backend.config().setAutoRead(true);
    }

    /** A spliceTo of length Integer.MAX_VALUE only ends by failing: a channel has gone. */
    private void spliceEnded(io.netty.util.concurrent.Future<? super Void> f) {
        if (!f.isSuccess() && directionsEnded < 2) abort();
    }

    private EpollSocketChannel peerOf(Channel ch) {
        return ch == client ? backend : client;
    }

    /** {@code from} has ended its input: end the peer's output once what is queued is written. */
    private void inputEnded(Channel from) {
        EpollSocketChannel to = peerOf(from);
        if (splice && !drainAfterSplice((EpollSocketChannel) from, to)) {
            abort();
            return;
        }
        to.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFuture written) -> {
            if (!written.isSuccess()) {
                abort();
                return;
            }
            to.shutdownOutput().addListener((ChannelFuture shut) -> {
                if (!shut.isSuccess()) abort();
                else if (++directionsEnded == 2) {
                    client.close();
                    backend.close();
                }
            });
        });
    }

    /**
     * Autoread back on, unless the input has ended. Never on an ended input: after the FIN Netty
     * 4.2.18 leaves such a channel with an empty epoll interest set, which it implements as
     * EPOLL_CTL_DEL while still believing the fd registered, so turning reading on again fails
     * (epoll_ctl MOD: ENOENT) and Netty closes the channel. (Netty reads on to EOF once EPOLLRDHUP
     * is seen, even with autoread off, so an ended input has nothing left to read.)
     */
    private static void resumeReading(EpollSocketChannel ch) {
        if (ch.isOpen() && !ch.isInputShutdown()) ch.config().setAutoRead(true);
    }

    /**
     * Splice mode only: Netty turns EPOLLRDHUP into an input shutdown at once, even when the pipe
     * was full and bytes are still queued in the socket; its splice would then push them after
     * the forwarded EOF (write on a shut output: the pair fails) or never. The peer has sent its
     * FIN, so everything it sent is already in the receive queue: read it out here (a read after
     * SHUT_RD still returns the queued bytes) and queue it behind the spliced bytes.
     */
    private static boolean drainAfterSplice(EpollSocketChannel from, EpollSocketChannel to) {
        ByteBufAllocator alloc = from.alloc();
        for (;;) {
            ByteBuf b = alloc.directBuffer(DRAIN_CHUNK);
            int n;
            try {
                n = from.fd().read(b.nioBuffer(0, b.capacity()), 0, b.capacity());
            } catch (IOException e) {
                b.release();
                return false;
            }
            if (n <= 0) {
                b.release();
                return true;
            }
            b.writerIndex(n);
            to.write(b, to.voidPromise());
        }
    }

    private void abort() {
        for (Object msg; (msg = early.poll()) != null; ) ReferenceCountUtil.release(msg);
        if (aborted) return;
        aborted = true;
        reset(client);
        if (backend != null) reset(backend);
    }

    private static void reset(Channel ch) {
        if (!ch.isOpen()) return;
        try {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        } catch (RuntimeException ignored) {
            // the socket is already broken; closing it is all that is left
        }
        ch.close();
    }

    /** The handler of one side; reads go to the other side. */
    private final class Side extends ChannelDuplexHandler {
        private final Channel self;

        Side(Channel self) {
            this.self = self;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            EpollSocketChannel peer = peerOf(self);
            if (aborted) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (peer == null) {
                // the backend is still connecting: keep the bytes, stop reading once there are many
                early.add(msg);
                if (msg instanceof ByteBuf b) earlyBytes += b.readableBytes();
                if (earlyBytes >= EARLY_LIMIT) self.config().setAutoRead(false);
                return;
            }
            peer.write(msg, peer.voidPromise());
            if (!peer.isWritable()) {
                // autoread off before the flush: a flush that drains the peer fires the
                // writability change (which turns reading back on) from inside flush()
                self.config().setAutoRead(false);
                peer.flush();
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            EpollSocketChannel peer = peerOf(self);
            if (peer != null && !aborted) peer.flush();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            EpollSocketChannel peer = peerOf(self);
            if (!splice && peer != null && self.isWritable()) resumeReading(peer);
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent && !aborted) {
                if (peerOf(self) != null) inputEnded(self);
                else clientEndedEarly = true;
            }
            ReferenceCountUtil.release(evt);
        }

        /**
         * A read requested on an input that has ended goes no further. Splice mode needs this:
         * once a spliced chunk has left the pipe, Netty 4.2.18 turns autoread back on for the
         * channel it came from (SpliceOutTask) even when that input ended meanwhile, and the
         * read would fail as {@link #resumeReading} describes (ENOENT), closing the channel
         * while the other direction still runs: the peer saw a reset in about one half-close in
         * three under load. An ended input has nothing left to read.
         */
        @Override
        public void read(ChannelHandlerContext ctx) {
            if (!((EpollSocketChannel) self).isInputShutdown()) ctx.read();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            abort();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (directionsEnded < 2) abort();
        }
    }
}
