/*
 * WireGuard UAPI: the listening socket /var/run/wireguard/IFNAME.sock that
 * wg(8) and wg-quick(8) find, created safely (mode 0600 before bind, stale
 * sockets removed, a live one refused) and removed at shutdown.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vpn/uapi.h"

static int
valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IF_NAMESIZE || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] <= 0x20 || (uint8_t)s[i] >= 0x7f || s[i] == '/')
			return 0;
	return 1;
}

static int
sock_path(struct sockaddr_un *sun, const char *dir, const char *ifname)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.sock", dir, ifname);
	return n > 0 && (size_t)n < sizeof(sun->sun_path) ? 0 : -1;
}

int
uapi_listen(const char *dir, const char *ifname, struct kerr *err)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, probe, e;

	if (dir == NULL)
		dir = UAPI_DIR_DEFAULT;
	if (ifname == NULL || !valid_ifname(ifname)) {
		kerr_set(err, KERR_INVALID, "invalid interface name for the UAPI socket");
		return -1;
	}
	if (sock_path(&sun, dir, ifname) != 0) {
		kerr_set(err, KERR_TOOBIG, "UAPI socket path %s/%s.sock is too long", dir, ifname);
		return -1;
	}
	if (mkdir(dir, 0755) == 0)
		(void)chmod(dir, 0755);	/* whatever the umask */
	else if (errno != EEXIST) {
		kerr_set(err, KERR_IO, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		kerr_set(err, KERR_IO, "%s is not a directory", dir);
		return -1;
	}
	if (lstat(sun.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			kerr_set(err, KERR_EXISTS, "%s exists and is not a socket", sun.sun_path);
			return -1;
		}
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			kerr_set(err, KERR_IO, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			kerr_set(err, KERR_EXISTS,
			    "%s: another process is listening on it (interface in use?)",
			    sun.sun_path);
			return -1;
		}
		e = errno;
		close(probe);
		if (e != ECONNREFUSED && e != ENOENT) {
			kerr_set(err, KERR_IO, "probing %s: %s", sun.sun_path, strerror(e));
			return -1;
		}
		if (unlink(sun.sun_path) != 0 && errno != ENOENT) {
			kerr_set(err, KERR_IO, "removing stale %s: %s", sun.sun_path,
			    strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		kerr_set(err, KERR_IO, "socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * Linux creates the socket file with the socket inode's mode less the
	 * umask, so set 0600 before bind: no window where it is wider.  The
	 * chmod after is for kernels that ignore it.
	 */
	(void)fchmod(fd, 0600);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		kerr_set(err, KERR_IO, "bind %s: %s", sun.sun_path, strerror(errno));
		goto fail;
	}
	if (chmod(sun.sun_path, 0600) != 0) {
		kerr_set(err, KERR_IO, "chmod %s: %s", sun.sun_path, strerror(errno));
		unlink(sun.sun_path);
		goto fail;
	}
	if (listen(fd, 16) != 0) {
		kerr_set(err, KERR_IO, "listen %s: %s", sun.sun_path, strerror(errno));
		unlink(sun.sun_path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

void
uapi_unlink(const char *dir, const char *ifname)
{
	struct sockaddr_un sun;

	if (ifname == NULL || !valid_ifname(ifname))
		return;
	if (sock_path(&sun, dir ? dir : UAPI_DIR_DEFAULT, ifname) == 0)
		(void)unlink(sun.sun_path);
}
