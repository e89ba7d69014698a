package org.forwarder.bench.relay;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The TCP relay a Java developer would write on Netty's native epoll transport, as a yardstick
 * for the forwarder. One event loop thread by default ({@code --threads N}); the backend
 * connection of a client is made on the client channel's own event loop, so a relayed pair never
 * crosses threads. TCP_NODELAY on both sides, SO_REUSEADDR and a backlog of 1024 on the listener.
 *
 * <p>Copy mode (the default, {@link NettyPair}): pooled ByteBufs read on one side are written to
 * the other; reading stops (autoread off) while the peer is not writable and resumes when it is
 * again. Half-close is propagated (ALLOW_HALF_CLOSURE: the input end of one side becomes
 * shutdownOutput on the other once everything before it has been written); both are closed when
 * both directions have ended; an error or reset on one side resets the other (SO_LINGER 0).
 *
 * <p>{@code --splice}: once the backend is connected, {@code EpollSocketChannel.spliceTo} is set
 * up in both directions (socket -> pipe -> socket in the kernel, no ByteBuf). Its limits, as
 * found in Netty 4.2.18.Final:
 * <ul>
 * <li>both channels must be on the same event loop; the epoll mode is no longer selectable
 *     (EPOLL_MODE is a no-op, channels are level-triggered) and spliceTo now insists on
 *     LEVEL_TRIGGERED, not on edge-triggered as in Netty 4.1;
 * <li>the splice runs "forever" (length Integer.MAX_VALUE): its future never succeeds, it only
 *     fails when a channel closes or a write to a shut output is attempted; no byte counts;
 * <li>bytes read into ByteBufs before spliceTo is queued are not spliced: they must be written
 *     first by hand (done here for what the client sends while the backend is connecting);
 * <li>half-close: Netty turns EPOLLRDHUP into an input shutdown at once, while bytes may still be
 *     queued in the socket (the 64 KiB pipe was full because the peer was slow): forwarding that
 *     EOF straight away truncates the stream, and the splice later fails writing behind it. Here
 *     the rest is read out of the socket by hand before the EOF is forwarded
 *     ({@link NettyPair}), which is what makes the tests pass in splice mode;
 * <li>once a spliced chunk has left the pipe, Netty turns autoread back on for its source even if
 *     that input has ended, and the read this starts fails (epoll_ctl MOD: ENOENT) and closes
 *     the channel mid-stream; {@link NettyPair} drops such reads in its pipeline;
 * <li>no back-pressure knob: Netty pauses the source until each pipe-to-socket splice completes.
 * </ul>
 *
 * <p>{@code NettyRelay --listen 127.0.0.1:PORT --connect ADDR:PORT [--threads N] [--splice]}:
 * prints {@code READY <port>} once listening and runs until SIGTERM.
 */
public final class NettyRelay implements AutoCloseable {
    private static final int BACKLOG = 1024;

    private final EventLoopGroup group;
    private final Channel listener;
    /** Every client and backend channel still open (a closed channel leaves the group). */
    private final ChannelGroup channels;

    private NettyRelay(EventLoopGroup group, Channel listener, ChannelGroup channels) {
        this.group = group;
        this.listener = listener;
        this.channels = channels;
    }

    public static NettyRelay start(RelayArgs args) throws IOException {
        if (!Epoll.isAvailable()) throw new IOException("Netty epoll transport unavailable: " + Epoll.unavailabilityCause());
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(args.threads(),
                new DefaultThreadFactory("netty-relay"), EpollIoHandler.newFactory());
        ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        // The template for every backend connection; each client clones it onto its own loop.
        Bootstrap backend = new Bootstrap()
                .channel(EpollSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // the pair's handler is added once the connect has succeeded
                        channels.add(ch);
                    }
                });
        InetSocketAddress target = args.connect();
        boolean splice = args.splice();
        ServerBootstrap server = new ServerBootstrap()
                .group(group)
                .channel(EpollServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, BACKLOG)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        channels.add(ch);
                        NettyPair.connect((EpollSocketChannel) ch, backend.clone(ch.eventLoop()), target, splice);
                    }
                });
        ChannelFuture bound = server.bind(args.listen()).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).awaitUninterruptibly();
            Throwable c = bound.cause();
            throw c instanceof IOException io ? io : new IOException(c);
        }
        return new NettyRelay(group, bound.channel(), channels);
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    /**
     * Closes the listener, the open connections and the event loops; each step waits at most
     * 0.5 s (1 s for the loops).
     *
     * <p>The connections are closed here, not left to the event loops' shutdown: in Netty 4.2.18 a
     * loop closes its channels only if it sees the shutdown right after polling epoll
     * (SingleThreadIoEventLoop.run: prepareToDestroy); a shutdown that lands while it runs tasks
     * ends the loop at once (confirmShutdown, quiet period 0) and the channels stay open for good,
     * with their splice pipes (a still-open pair in about one run in six of RelayTest's counted
     * case in splice mode).
     */
    @Override
    public void close() {
        listener.close().awaitUninterruptibly(500);
        // A client accepted before the listener closed joins the group when its registration
        // task runs on its loop: once a task queued behind it has run, the group holds them all.
        for (EventExecutor loop : group) loop.submit(() -> { }).awaitUninterruptibly(500);
        channels.close().awaitUninterruptibly(500);
        group.shutdownGracefully(0, 500, TimeUnit.MILLISECONDS).awaitUninterruptibly(1_000);
    }

    public static void main(String[] argv) {
        RelayArgs args = RelayArgs.parseOrExit("NettyRelay", argv, true);
        NettyRelay relay;
        try {
            relay = start(args);
        } catch (IOException e) {
            System.err.println("NettyRelay: cannot listen on " + args.listen() + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(relay::close, "netty-relay-stop"));
        System.out.println("READY " + relay.port());
        System.out.flush();
    }
}
