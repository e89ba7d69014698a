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

.PHONY: all build test run bench bench-e2e bench-threads bench-observe compare-edges compare-cli bindings abi-check clean

all: build

build:
	$(MVN) -DskipTests install

test:
	$(MVN_TEST) install

run: build
	$(JAVA) --enable-native-access=ALL-UNNAMED -jar $(JAR) -f $(CFG)

# A short profile (one fork, 2 x 2 s warmup, 3 x 3 s measurement: about 3 minutes on two
# cores); JMH_ARGS="..." replaces it, e.g. JMH_ARGS="-f 1 RequestResponse".
JMH_ARGS ?= -f 1 -wi 2 -w 2s -i 3 -r 3s
bench: build
	$(JAVA) --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar $(JMH_ARGS)

bench-e2e: build
	bench/e2e/compare.sh

bench-threads: build
	bench/threads/run.sh

# What option tcplog to a UDP syslog and a /metrics scrape every 100 ms cost, against both off.
bench-observe: build
	bench/observe/run.sh

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
