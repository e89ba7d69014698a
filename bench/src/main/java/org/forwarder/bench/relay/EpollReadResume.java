package org.forwarder.bench.relay;

import io.netty.channel.Channel;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.EpollIoOps;

import java.lang.reflect.Field;

/**
 * Turns reading back on for a Netty epoll channel, working around a bug found in Netty 4.2.18.
 *
 * <p>Why this exists: when an epoll channel's interest set becomes empty (autoread off for
 * back-pressure, nothing to write, and then the peer's FIN arrives, after which Netty drops
 * EPOLLRDHUP from the set), Netty removes the fd from epoll (EPOLL_CTL_DEL) but keeps its
 * registration marked as added; the next setAutoRead(true) then issues EPOLL_CTL_MOD, fails with
 * ENOENT and Netty closes the channel, losing whatever was still unread before the FIN. This
 * helper looks at the channel's interest set and, when it is empty, deregisters and re-registers
 * the channel on its event loop (a fresh registration adds the fd again) before reading resumes.
 * The interest set is read by reflection (Netty is on the class path, unnamed module).
 */
final class EpollReadResume {
    private static final Field OPS = opsField();

    private EpollReadResume() {}

    private static Field opsField() {
        try {
            Field f = AbstractEpollStreamChannel.class.getSuperclass().getDeclaredField("ops");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** Whether Netty has taken {@code ch}'s fd out of epoll while believing it is still in. */
    static boolean lostFromEpoll(Channel ch) {
        if (OPS == null || !(ch instanceof AbstractEpollStreamChannel)) return false;
        try {
            EpollIoOps ops = (EpollIoOps) OPS.get(ch);
            return ops != null && ops.value() == 0;
        } catch (IllegalAccessException e) {
            return false;
        }
    }

    /** setAutoRead(true), re-registering {@code ch} first if Netty lost it; on the channel's loop. */
    static void resume(Channel ch, Runnable onFailure) {
        if (!ch.isOpen() || ch.config().isAutoRead()) return;
        if (!lostFromEpoll(ch)) {
            ch.config().setAutoRead(true);
            return;
        }
        if (Boolean.getBoolean("relay.debug")) System.err.println("re-registering " + ch);
        ch.deregister().addListener(d -> {
            if (Boolean.getBoolean("relay.debug")) System.err.println("deregistered " + d.isSuccess() + " " + d.cause());
            if (!d.isSuccess()) {
                onFailure.run();
                return;
            }
            ch.eventLoop().register(ch).addListener(r -> {
                if (Boolean.getBoolean("relay.debug")) System.err.println("registered " + r.isSuccess() + " " + r.cause() + " autoread " + ch.config().isAutoRead());
                if (r.isSuccess()) ch.config().setAutoRead(true);
                else onFailure.run();
            });
        });
    }
}
