/* phasebox-stall.so — LD_PRELOAD for tests/bats: holds phasebox-reap at its very start,
 * after exec and before it has any signal handler (the window in which a pid namespace's
 * init drops a signal with the default disposition), until the test lets it go.
 *
 * PB_STALL_DIR names a directory with two fifos: "stalled", to which it writes its pid,
 * and "go", from which it reads one line.  Any other program, or no PB_STALL_DIR: nothing. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void stall(void)
{
	const char* dir = getenv("PB_STALL_DIR");
	char exe[4096], path[4200], buf[64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (!dir || n <= 0)
		return;
	exe[n] = '\0';
	const char* base = strrchr(exe, '/');
	if (!base || strcmp(base + 1, "phasebox-reap") != 0)
		return;
	snprintf(path, sizeof path, "%s/stalled", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
		if (write(fd, buf, (size_t)len) < 0) { /* the test sees nothing and fails */ }
		close(fd);
	}
	snprintf(path, sizeof path, "%s/go", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while (read(fd, buf, sizeof buf) < 0) {
		}
		close(fd);
	}
}
