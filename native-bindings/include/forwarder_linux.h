/*
 * The one header jextract reads to generate the org.forwarder.linux bindings.
 * _GNU_SOURCE exposes splice(), pipe2(), accept4(), F_SETPIPE_SZ, sched_setaffinity() and friends.
 * Only the system headers are included: nothing here is our own declaration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
