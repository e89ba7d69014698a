# forwarder: build, test, run, benchmark, regenerate bindings.
# Finds a JDK >= 25 by itself: $JAVA_HOME if new enough, else the newest under /usr/lib/jvm.

SHELL := /bin/bash
MIN_JAVA := 25

define find_jdk
for h in "$$JAVA_HOME" $$(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do \
  h=$${h%/}; [ -n "$$h" ] && [ -x "$$h/bin/javac" ] || continue; \
  v=$$("$$h/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'); \
  [ -n "$$v" ] && [ "$${v%%.*}" -ge $(MIN_JAVA) ] 2>/dev/null && { echo "$$h"; break; }; \
done
endef

JDK := $(shell $(find_jdk))
ifeq ($(JDK),)
  $(error No JDK >= $(MIN_JAVA) found (checked JAVA_HOME and /usr/lib/jvm). Install one, e.g. Temurin 25, then run make again)
endif
export JAVA_HOME := $(JDK)
JAVA := $(JDK)/bin/java
# Maven's own libraries touch sun.misc.Unsafe; keep the build log about our code.
export MAVEN_OPTS ?= --sun-misc-unsafe-memory-access=allow
MVN := mvn -B -q -e
# tests print Surefire's per-class and closing "Tests run:" lines (CI reads them)
MVN_TEST := mvn -B -ntp -e
CFG ?= etc/forwarder.cfg
JAR := forwarder/target/forwarder.jar

.PHONY: all build test run aot profile bench bench-e2e bench-threads bench-observe soak compare-edges compare-cli bindings abi-check clean

all: build

build:
	$(MVN) -DskipTests install

test:
	$(MVN_TEST) install

# bin/forwarder: the JVM settings chosen by measurement (docs/jvm.md) and the AOT cache.
# A missing or stale cache (trained with another jar) is built first (about 30 s); if that fails,
# it runs anyway.
run: build
	@bin/aot-cache --check || bin/aot-cache || echo "make run: no AOT cache, starting without it"
	bin/forwarder -f $(CFG)

# The JDK's ahead-of-time cache for bin/forwarder, from a short training run (bin/aot-cache).
aot: build
	bin/aot-cache

# A short profile (one fork, 2 x 2 s warmup, 3 x 3 s measurement: about 3 minutes on two
# cores); JMH_ARGS="..." replaces it, e.g. JMH_ARGS="-f 1 RequestResponse".
JMH_ARGS ?= -f 1 -wi 2 -w 2s -i 3 -r 3s
bench: build
	$(JAVA) --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar $(JMH_ARGS)

# Every relay (HAProxy, socat, forwarder, Netty, NIO, direct) through iperf3, ping-pong, new
# connections and redis-benchmark, interleaved in one run; ~30 min by default (QUICK=1: a few).
# E2E_ARGS e.g. "--quick --targets 'direct haproxy-copy forwarder-copy'"; see bench/e2e/README.md.
bench-e2e: build
	@bin/aot-cache --check || bin/aot-cache || echo "make bench-e2e: no AOT cache, the forwarder rows start without it"
	bench/e2e/run.py $(E2E_ARGS)

# Syscalls, CPU, allocation, GC and JIT warm-up per new connection, the forwarder beside HAProxy.
profile: build
	@bin/aot-cache --check || bin/aot-cache || echo "make profile: no AOT cache, its aot rows will say so"
	bench/profile/run.sh

bench-threads: build
	bench/threads/run.sh

# What option tcplog to a UDP syslog and a /metrics scrape every 100 ms cost, against both off.
bench-observe: build
	bench/observe/run.sh

# An hour (DURATION) of mixed traffic (bulk with SHA-256, ping-pong, new connections, resets,
# half-closes): forwarder RSS and fds must stay flat; not part of `make test`. Settings are
# environment variables (DURATION, SAMPLE, NBTHREAD, FORWARDER_JVM, ...: see bench/soak/README.md)
# or SOAK_ARGS, e.g. SOAK_ARGS="DURATION=120 SAMPLE=5".
soak: build
	env $(SOAK_ARGS) bench/soak/run.sh

# Edge cases (resets, timeouts, retries, urgent data, pipes, queue) against HAProxy and the
# forwarder, side by side; not part of `make test`. EDGE_ARGS e.g. "--out FILE connect-retry".
compare-edges: build
	bench/edge/run.sh $(EDGE_ARGS)

# Runtime API (stats socket) answers of HAProxy 2.6 and the forwarder, compared after
# normalization; not part of `make test`. CLI_ARGS e.g. "--keep".
compare-cli: build
	bench/cli/compare.sh $(CLI_ARGS)

abi-check:
	$(MVN) -pl native-bindings test -Dtest=AbiTest -Dsurefire.failIfNoSpecifiedTests=false

# Regenerate org.forwarder.linux from native-bindings/include with jextract.
# jextract is not in any package registry: build it from its public sources and pass its launcher.
bindings:
	@if [ -z "$(JEXTRACT)" ]; then echo "usage: make bindings JEXTRACT=/path/to/jextract (see README: Regenerating the bindings)"; exit 2; fi
	rm -rf native-bindings/src/main/java/org/forwarder/linux
	$(JEXTRACT) @native-bindings/jextract.args

clean:
	$(MVN) clean
