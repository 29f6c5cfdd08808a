/*
 * koden-vpn's least privilege, once the TUN device and the UDP and UAPI
 * sockets are open (docs/vpn.md, "Least privilege"): every capability
 * dropped but CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, no_new_privs, a
 * Landlock ruleset that leaves only the removal of the UAPI socket, and a
 * seccomp deny list.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "vpn/uapi.h"
#include "vpn/vpn_int.h"

/* The highest capability number: the kernel's sets are 64 bits, and the
 * bounding set is dropped bit by bit up to here (EINVAL past the kernel's
 * last one is fine). */
#define VPN_CAP_MAX 63

/*
 * Landlock rights by the ABI that brought them (the kernel's uapi
 * linux/landlock.h; Debian 12's headers stop at ABI 2, so spelled out).
 */
#define LL_FS_ABI1 ((1ULL << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ULL << 13)	/* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)	/* ABI 3 */
#define LL_NET_TCP 3ULL			/* ABI 4: BIND_TCP, CONNECT_TCP */
#define LL_FS_IOCTL_DEV (1ULL << 15)	/* ABI 5 */
#define LL_SCOPE_ALL 3ULL		/* ABI 6: ABSTRACT_UNIX_SOCKET, SIGNAL */

static int
drop_caps(void)
{
	struct __user_cap_header_struct hdr = { .version =
	    _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint32_t keep = (1u << CAP_NET_ADMIN) | (1u << CAP_NET_BIND_SERVICE);

	for (int c = 0; c <= VPN_CAP_MAX; c++) {
		if (c == CAP_NET_ADMIN || c == CAP_NET_BIND_SERVICE)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
			return -1;
	}
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = keep;
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -1;
	return 0;
}

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif

static int
install_seccomp(void)
{
#ifdef SECCOMP_ARCH
	static const int deny[] = {
		SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv,
		SYS_process_vm_writev, SYS_mount, SYS_umount2, SYS_pivot_root,
		SYS_chroot, SYS_kexec_load, SYS_kexec_file_load,
		SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_bpf,
		SYS_perf_event_open, SYS_keyctl, SYS_add_key, SYS_request_key,
		SYS_unshare, SYS_setns, SYS_reboot, SYS_swapon, SYS_swapoff,
		SYS_open_by_handle_at, SYS_userfaultfd, SYS_personality,
		SYS_acct, SYS_settimeofday, SYS_clock_settime, SYS_quotactl,
#ifdef SYS_iopl
		SYS_iopl, SYS_ioperm,
#endif
	};
	enum { N = sizeof(deny) / sizeof(deny[0]) };
	struct sock_filter f[4 + 2 * N + 1];
	struct sock_fprog prog;
	unsigned k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SECCOMP_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < N; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    (unsigned)deny[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | EPERM);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)k;
	prog.filter = f;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
	log_warn("no seccomp filter for this architecture");
	return 0;
#endif
}

/*
 * Landlock: no filesystem access at all any more (every right the kernel's
 * ABI knows is handled, none granted) except removing our UAPI socket from
 * its directory at exit; with ABI 4 no TCP bind or connect, with ABI 6 no
 * signals to or abstract-socket connections with processes outside.
 * Already open descriptors (TUN, sockets) are unaffected.  Returns the ABI
 * used, 0 if the kernel has no Landlock, -1 on error.
 */
struct ll_ruleset_attr {		/* the kernel's struct, ABI 6 layout */
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

static int
install_landlock(const char *sockdir)
{
	struct ll_ruleset_attr attr = { 0 };
	struct landlock_path_beneath_attr pb = { 0 };
	size_t attr_size;
	long abi;
	int rs, dfd, ret = -1;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	attr.handled_access_fs = LL_FS_ABI1;
	attr_size = sizeof(uint64_t);
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_TCP;
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ALL;
		attr_size = sizeof(attr);
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rs < 0)
		return -1;
	dfd = open(sockdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		pb.allowed_access = LANDLOCK_ACCESS_FS_REMOVE_FILE;
		pb.parent_fd = dfd;
		if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0) != 0)
			log_warn("landlock: %s: %s", sockdir, strerror(errno));
		close(dfd);
	}
	if (syscall(SYS_landlock_restrict_self, rs, 0) == 0)
		ret = (int)abi;
	close(rs);
	return ret;
}

/* Call before any other thread exists: Landlock and seccomp bind the
 * calling thread and what it creates afterwards. */
void
vpn_drop_privileges(void)
{
	int abi;

	if (drop_caps() != 0)
		log_warn("could not drop capabilities: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_warn("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return;
	}
	abi = install_landlock(UAPI_DIR_DEFAULT);
	if (abi > 0)
		log_info("landlock ruleset in force (ABI %d)", abi);
	else if (abi < 0)
		log_warn("landlock: %s", strerror(errno));
	if (install_seccomp() != 0)
		log_warn("seccomp filter: %s", strerror(errno));
}
