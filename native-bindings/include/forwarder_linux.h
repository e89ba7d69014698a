/*
 * The one header jextract reads to generate the org.forwarder.linux bindings.
 * _GNU_SOURCE exposes splice(), pipe2(), accept4(), F_SETPIPE_SZ, sched_setaffinity() and friends.
 * <sys/un.h> gives struct sockaddr_un, <sys/stat.h> chmod() and <stdio.h> rename(): the Unix
 * stream sockets of the stats socket, bound under a temporary name and moved into place.
 * Only the system headers are included: nothing here is our own declaration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
