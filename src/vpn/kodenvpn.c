/*
 * koden-vpn [-f] INTERFACE: the userspace WireGuard-protocol VPN, driven the
 * way wireguard-go is.  It creates the TUN interface, serves the userspace
 * API on /var/run/wireguard/INTERFACE.sock (src/vpn/uapi.c) for `wg` and
 * `wg-quick`, daemonises unless -f or WG_PROCESS_FOREGROUND=1, and exits
 * cleanly (removing the socket) on SIGTERM/SIGINT or when the interface is
 * deleted.  The protocol lives in wg_*.c; this file and vpn_*.c are the I/O
 * around it (vpn_int.h names the rooms).
 *
 * Threads: the main thread moves packets (TUN <-> UDP, batched with
 * recvmmsg/sendmmsg, TSO/GRO on the TUN side and GSO/GRO on the UDP side)
 * and runs the timers; a fork-join pool (workers.c, one thread per extra
 * CPU) does the AEAD work of each batch; one thread accepts UAPI
 * connections and serves each in a detached thread.  One mutex serialises
 * every call into the engine.
 *
 * Privileges, once TUN, UDP and UAPI sockets are open: every capability is
 * dropped except CAP_NET_ADMIN (SO_MARK for fwmark, SO_*BUFFORCE when a
 * listen-port change rebinds) and CAP_NET_BIND_SERVICE (a listen port below
 * 1024), also from the bounding set; PR_SET_NO_NEW_PRIVS; and a seccomp
 * filter that makes exec, ptrace, module/kexec/bpf/mount/namespace and
 * similar system calls fail with EPERM (a deny list: an allow list breaks
 * with every libc and libsodium update); and a Landlock ruleset that denies
 * all filesystem access but removing the UAPI socket (and TCP, and signals
 * out of the sandbox, where the kernel's ABI knows them).  The process keeps
 * uid 0, since it must unlink its root-owned socket at exit.
 *
 * Test-only: KODEN_VPN_TEST_REKEY_SECONDS=N replaces REKEY_AFTER_TIME (120 s)
 * by N seconds so system tests can see a rekey; KODEN_VPN_TEST_UNDER_LOAD=1
 * makes the device behave as under load (every handshake message needs a
 * valid MAC2, else it gets a cookie reply) so that the cookie exchange can be
 * tested against other implementations.  Never set them in production.
 * KODEN_VPN_NO_OFFLOAD=1 turns off TUN TSO and UDP GSO.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "vpn/offload.h"
#include "vpn/uapi.h"
#include "vpn/vpn_int.h"
#include "vpn/workers.h"
#include "vpn/wg.h"

#define VPN_TICK_NS (100 * 1000000ULL)	/* timers run at least this often */

static void
usage(void)
{
	fprintf(stderr, "usage: koden-vpn [-f] INTERFACE\n"
	    "  -f  stay in the foreground (also WG_PROCESS_FOREGROUND=1)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct vpn *v;
	struct kerr e = { { 0 } };
	struct wg_io io = { .udp_send = vpn_io_udp_send,
	    .tun_write = vpn_io_tun_write, .udp_reserve = vpn_io_udp_reserve,
	    .run = workers_run_cb };
	struct workers *pool = NULL;
	long ncpu;
	sigset_t mask;
	pthread_t at;
	int foreground = 0, sfd, pipefd[2], r;
	const char *env;
	uint64_t next_check = 0, next_tick = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 ||
		    strcmp(argv[i], "--foreground") == 0)
			foreground = 1;
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			usage();
		else if (argv[i][0] == '-' || i != argc - 1)
			usage();
	}
	if (argc < 2 || argv[argc - 1][0] == '-')
		usage();
	if ((env = getenv("WG_PROCESS_FOREGROUND")) != NULL &&
	    strcmp(env, "1") == 0)
		foreground = 1;
	log_init("koden-vpn", LOG_INFO_, 0);
	if ((env = getenv("LOG_LEVEL")) != NULL && log_level_parse(env) >= 0)
		log_set_level(log_level_parse(env));
	if (sodium_init() < 0) {
		fprintf(stderr, "koden-vpn: libsodium failed to start\n");
		return 1;
	}
	if (strlen(argv[argc - 1]) >= IFNAMSIZ) {
		fprintf(stderr, "koden-vpn: interface name %s: longer than %d "
		    "bytes\n", argv[argc - 1], IFNAMSIZ - 1);
		return 1;
	}

	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		fprintf(stderr, "koden-vpn: out of memory\n");
		return 1;
	}
	pthread_mutex_init(&v->lock, NULL);
	snprintf(v->ifname, sizeof(v->ifname), "%s", argv[argc - 1]);
	offload_gro_init(&v->gro);
	v->tun_out = vpn_tun_out;
	v->old_udp_fd = -1;
	if ((r = wg_dev_new(&v->dev, &io, v)) != 0) {
		fprintf(stderr, "koden-vpn: %s\n", kerr_str(r));
		return 1;
	}
	if ((env = getenv("KODEN_VPN_TEST_REKEY_SECONDS")) != NULL &&
	    atoi(env) > 0) {
		v->dev->timing.rekey_after_time = (uint64_t)atoi(env) * WG_NSEC;
		log_warn("TEST ONLY: REKEY_AFTER_TIME is %d s", atoi(env));
	}

	if ((env = getenv("KODEN_VPN_TEST_UNDER_LOAD")) != NULL &&
	    strcmp(env, "1") == 0) {
		v->dev->force_under_load = true;
		log_warn("TEST ONLY: always under load (MAC2 and cookies "
		    "required)");
	}
	env = getenv("KODEN_VPN_NO_OFFLOAD");
	v->tun_fd = vpn_tun_open(v->ifname, env == NULL || strcmp(env, "1") != 0,
	    &v->vnet, &e);
	v->udp_gso = env == NULL || strcmp(env, "1") != 0;
	if (v->tun_fd < 0) {
		fprintf(stderr, "koden-vpn: %s\n", e.msg);
		return 1;
	}
	v->udp_fd = vpn_udp_open(0, 0, &v->udp_family, &v->port);
	if (v->udp_fd < 0) {
		fprintf(stderr, "koden-vpn: UDP socket: %s\n", strerror(errno));
		return 1;
	}
	v->uapi_fd = uapi_listen(NULL, v->ifname, &e);
	if (v->uapi_fd < 0) {
		fprintf(stderr, "koden-vpn: %s\n", e.msg);
		return 1;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
		fprintf(stderr, "koden-vpn: pipe: %s\n", strerror(errno));
		uapi_unlink(NULL, v->ifname);
		return 1;
	}
	v->wake_rd = pipefd[0];
	v->wake_fd = pipefd[1];

	if (!foreground) {
		pid_t pid = fork();
		int devnull;

		if (pid < 0) {
			fprintf(stderr, "koden-vpn: fork: %s\n", strerror(errno));
			uapi_unlink(NULL, v->ifname);
			return 1;
		}
		if (pid > 0)
			_exit(0);	/* the child owns the interface now */
		setsid();
		devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			if (devnull > 2)
				close(devnull);
		}
		log_init("koden-vpn", LOG_INFO_, 1);
		if ((env = getenv("LOG_LEVEL")) != NULL &&
		    log_level_parse(env) >= 0)
			log_set_level(log_level_parse(env));
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		/* without it SIGTERM could not stop us cleanly: refuse to run */
		log_err("signalfd for SIGTERM and SIGINT: %s", strerror(errno));
		uapi_unlink(NULL, v->ifname);
		return 1;
	}

	vpn_drop_privileges();
	/* crypto on every core: one worker per CPU besides this thread
	 * (KODEN_VPN_THREADS=N: N threads in all, 1 = this one only) */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if ((env = getenv("KODEN_VPN_THREADS")) != NULL && atoi(env) > 0)
		ncpu = atoi(env);
	if (ncpu > WORKERS_MAX + 1)
		ncpu = WORKERS_MAX + 1;
	if (ncpu > 1 && workers_new(&pool, (unsigned)(ncpu - 1)) != 0)
		log_warn("no crypto worker threads: running on one core");
	pthread_mutex_lock(&v->lock);
	v->dev->io.run_ctx = pool;
	pthread_mutex_unlock(&v->lock);
	if (pthread_create(&at, NULL, vpn_accept_thread, v) != 0) {
		log_err("cannot start the UAPI thread");
		uapi_unlink(NULL, v->ifname);
		return 1;
	}
	pthread_detach(at);
	log_info("interface %s up, UDP port %u", v->ifname, v->port);

	for (;;) {
		struct pollfd pfd[4];
		uint64_t now = mono_now();
		int timeout;

		pthread_mutex_lock(&v->lock);
		if (v->old_udp_fd >= 0) {
			close(v->old_udp_fd);
			v->old_udp_fd = -1;
		}
		/*
		 * Timers run when the earliest is due, and at least every
		 * VPN_TICK_NS: a packet may arm an earlier one meanwhile, and
		 * WireGuard's timers are coarse.  Not on every batch: that
		 * would walk every peer per batch.
		 */
		if (now >= next_tick) {
			uint64_t next;

			v->dev->wall_offset_ns = wall_offset(now);
			next = wg_dev_tick(v->dev, now);
			vpn_tx_flush(v);
			next_tick = now + VPN_TICK_NS;
			if (next != 0 && next < next_tick)
				next_tick = next;
		}
		pfd[1].fd = v->udp_fd;
		pthread_mutex_unlock(&v->lock);

		timeout = next_tick > now ?
		    (int)((next_tick - now) / 1000000) + 1 : 0;
		pfd[0].fd = v->tun_fd;
		pfd[0].events = POLLIN;
		pfd[1].events = POLLIN;
		pfd[2].fd = sfd;
		pfd[2].events = POLLIN;
		pfd[3].fd = v->wake_rd;
		pfd[3].events = POLLIN;
		r = poll(pfd, 4, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && (pfd[2].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo != SIGPIPE && si.ssi_signo != SIGHUP) {
				log_info("signal %u: shutting down", si.ssi_signo);
				break;
			}
		}
		if (r > 0 && (pfd[3].revents & POLLIN)) {
			char buf[64];

			while (read(v->wake_rd, buf, sizeof(buf)) > 0)
				;
			next_tick = 0;	/* a set may have armed timers */
		}
		if (r > 0 && (pfd[1].revents & POLLIN))
			vpn_handle_udp(v);
		if (r > 0 && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)))
			if (vpn_handle_tun(v) != 0)
				break;
		now = mono_now();
		if (now >= next_check) {
			next_check = now + WG_NSEC;
			if (if_nametoindex(v->ifname) == 0) {
				log_info("interface %s is gone; exiting",
				    v->ifname);
				break;
			}
		}
	}
	uapi_unlink(NULL, v->ifname);
	pthread_mutex_lock(&v->lock);
	wg_dev_free(v->dev);
	v->dev = NULL;
	/* the UAPI threads die with the process; they hold no state */
	_exit(0);
}
