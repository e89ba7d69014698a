package org.forwarder.bench.load;

import java.net.InetSocketAddress;

/**
 * What every driver thread of one run shares: where to connect, the message size, and the time
 * line in System.nanoTime() units. Operations completing in [warmupEndNs, measureEndNs) are
 * measured; at hardDeadlineNs every driver stops whatever it is doing. maxOps and maxErrors bound
 * each driver by count as well.
 */
record Plan(InetSocketAddress target, int size, long warmupEndNs, long measureEndNs, long hardDeadlineNs,
            long maxOps, long maxErrors, long opTimeoutNs) {
}
