/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_cache.h"
#include "util/macro.h"
#include "tap.h"

#define TICK (clock_tick_ns())
#define CID  "3f2a5c0e9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29"

/* An exec event in an aligned buffer, as the ring buffer would hand it over. */
struct exec_buf {
	union {
		struct vigil_exec_event ev;
		uint64_t align[(sizeof(struct vigil_exec_event) + 512) / 8];
	};
};

static struct event_exec make_exec(struct exec_buf *b, uint32_t pid, uint64_t start, uint32_t ppid,
				   uint64_t pstart, const char *binary, const char *cwd,
				   const char *args, size_t args_len, uint64_t ino)
{
	struct event_decoded d;
	size_t bl = strlen(binary), cl = strlen(cwd);

	memset(b, 0, sizeof(*b));
	b->ev.hdr = (struct vigil_event_hdr){.ts_ns = start + 1000,
					     .tgid = pid,
					     .pid = pid,
					     .type = VIGIL_EV_EXEC,
					     .version = VIGIL_EVENT_VERSION};
	b->ev.creds = (struct vigil_creds){1000, 1000, 100, 100, 1000, 0};
	b->ev.start_boottime = start;
	b->ev.parent_start_boottime = pstart;
	b->ev.exe_ino = ino;
	b->ev.ppid = ppid;
	b->ev.binary_len = bl;
	b->ev.cwd_len = cl;
	b->ev.args_len = args_len;
	memcpy(b->ev.data, binary, bl);
	memcpy(b->ev.data + bl, cwd, cl);
	memcpy(b->ev.data + bl + cl, args, args_len);
	b->ev.hdr.size = sizeof(b->ev) + bl + cl + args_len;
	if (event_decode(b, b->ev.hdr.size, &d) < 0)
		TAP_FAIL("synthetic exec event does not decode");
	return d.exec;
}

static struct vigil_exit_event make_exit(uint32_t pid, uint64_t start, uint32_t ppid, uint64_t ts,
					 uint32_t code)
{
	return (struct vigil_exit_event){
		.hdr = {.ts_ns = ts,
			.tgid = pid,
			.pid = pid,
			.type = VIGIL_EV_EXIT,
			.version = VIGIL_EVENT_VERSION,
			.size = sizeof(struct vigil_exit_event)},
		.start_boottime = start,
		.ppid = ppid,
		.exit_code = code,
	};
}

static struct proc_cache *new_synthetic(size_t max, uint64_t grace)
{
	struct proc_cache_options o = {
		.max_entries = max,
		.grace_usec = grace,
		.node_name = "node-a",
		.proc_root = "/nonexistent-proc", /* no fallback reads of the real /proc */
		.boot_id = "deadbeef",
	};
	struct proc_cache *c = NULL;

	if (proc_cache_new(&o, &c) < 0)
		TAP_FAIL("proc_cache_new");
	return c;
}

TEST(exec_id_format)
{
	char buf[256];
	int n;

	/* base64url("n:deadbeef:10:7:9") without padding */
	n = proc_exec_id("n", "deadbeef", 10, 7, 9, buf, sizeof(buf));
	ASSERT_EQ(n, (int)strlen("bjpkZWFkYmVlZjoxMDo3Ojk"));
	ASSERT_STREQ(buf, "bjpkZWFkYmVlZjoxMDo3Ojk");
	/* a byte that maps to '-' and '_' in the url alphabet: 0xfb 0xff */
	n = proc_exec_id("\xfb\xff", "x", 1, 1, 1, buf, sizeof(buf));
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(strchr(buf, '-') || strchr(buf, '_'));
	ASSERT_NULL(strchr(buf, '='));
	ASSERT_NULL(strchr(buf, '+'));
	ASSERT_NULL(strchr(buf, '/'));
}

TEST(exec_and_pid_reuse)
{
	struct proc_cache *c = new_synthetic(100, 0);
	struct exec_buf b;
	struct event_exec x;
	const struct proc_entry *p, *a, *bb;
	char ida[256];
	static const char args[] = "/bin/sleep\0"
				   "5";

	x = make_exec(&b, 500, 100 * TICK, 1, 1 * TICK, "/usr/bin/sleep", "/tmp", args,
		      sizeof(args), 77);
	p = proc_cache_on_exec(c, &x);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(p->pid, 500);
	ASSERT_EQ(p->argc, 2);
	ASSERT_STREQ(p->binary, "/usr/bin/sleep");
	ASSERT_STREQ(p->cwd, "/tmp");
	ASSERT_EQ(p->euid, 1000);
	ASSERT_TRUE(p->flags & PROC_F_EXECVE);
	ASSERT_TRUE(p->flags & PROC_F_MISS); /* parent 1 never seen */
	snprintf(ida, sizeof(ida), "%s", p->exec_id);

	/* same pid, later start: a different process */
	x = make_exec(&b, 500, 900 * TICK + 5, 1, 1 * TICK, "/usr/bin/true", "/", args,
		      sizeof(args), 78);
	ASSERT_NOT_NULL(proc_cache_on_exec(c, &x));
	ASSERT_EQ(proc_cache_size(c), 2);
	a = proc_cache_lookup(c, 500, 100 * TICK);
	ASSERT_NOT_NULL(a);
	ASSERT_STREQ(a->binary, "/usr/bin/sleep");
	ASSERT_STREQ(a->exec_id, ida);
	bb = proc_cache_lookup(c, 500, 900 * TICK);
	ASSERT_NOT_NULL(bb);
	ASSERT_STREQ(bb->binary, "/usr/bin/true");
	ASSERT_TRUE(strcmp(a->exec_id, bb->exec_id) != 0);
	/* start 0: the newest live one */
	ASSERT_STREQ(proc_cache_lookup(c, 500, 0)->binary, "/usr/bin/true");
	ASSERT_NULL(proc_cache_lookup(c, 500, 300 * TICK));
	proc_cache_free(c);
}

TEST(clone_inherits_then_exec)
{
	struct proc_cache *c = new_synthetic(100, 0);
	struct exec_buf b;
	struct event_exec x;
	const struct proc_entry *parent, *child, *p2;
	struct vigil_clone_event ce = {};
	char pid_exec[256];
	static const char args[] = "bash\0-c\0echo hi";

	x = make_exec(&b, 600, 50 * TICK, 0, 0, "/usr/bin/bash", "/root", args, sizeof(args), 1234);
	parent = proc_cache_on_exec(c, &x);
	ASSERT_NOT_NULL(parent);
	snprintf(pid_exec, sizeof(pid_exec), "%s", parent->exec_id);

	ce.hdr = (struct vigil_event_hdr){.tgid = 601,
					  .pid = 601,
					  .type = VIGIL_EV_CLONE,
					  .version = VIGIL_EVENT_VERSION,
					  .size = sizeof(ce)};
	ce.creds = (struct vigil_creds){0, 0, 0, 0, 1000, 0};
	ce.start_boottime = 60 * TICK;
	ce.parent_start_boottime = 50 * TICK;
	ce.ppid = 600;
	child = proc_cache_on_clone(c, &ce);
	ASSERT_NOT_NULL(child);
	ASSERT_STREQ(child->binary, "/usr/bin/bash");
	ASSERT_STREQ(child->cwd, "/root");
	ASSERT_EQ(child->argc, 3);
	ASSERT_EQ(child->args_len, sizeof(args));
	ASSERT_MEMEQ(child->args, args, sizeof(args));
	ASSERT_EQ(child->exe_ino, 1234);
	ASSERT_TRUE(child->flags & PROC_F_CLONE);
	ASSERT_FALSE(child->flags & PROC_F_MISS);
	ASSERT_STREQ(child->parent_exec_id, pid_exec);
	ASSERT_TRUE(strcmp(child->exec_id, pid_exec) != 0);
	p2 = proc_cache_parent(c, child);
	ASSERT_NOT_NULL(p2);
	ASSERT_STREQ(p2->exec_id, pid_exec);

	/* the child execs: new image, same identity and parent */
	x = make_exec(&b, 601, 60 * TICK, 600, 50 * TICK, "/usr/bin/echo", "/root", "echo\0hi", 8,
		      99);
	child = proc_cache_on_exec(c, &x);
	ASSERT_EQ(proc_cache_size(c), 2);
	ASSERT_STREQ(child->binary, "/usr/bin/echo");
	ASSERT_STREQ(child->parent_exec_id, pid_exec);
	ASSERT_FALSE(child->flags & PROC_F_CLONE);
	proc_cache_free(c);
}

static void exec_n(struct proc_cache *c, uint32_t pid)
{
	struct exec_buf b;
	struct event_exec x = make_exec(&b, pid, pid * TICK, 0, 0, "/bin/x", "/", "x", 2, 1);

	if (!proc_cache_on_exec(c, &x))
		TAP_FAIL("exec %u", pid);
}

/* Policy: at the bound, the oldest exited entry goes first, else the least recently used. */
TEST(lru_eviction)
{
	struct proc_cache *c = new_synthetic(4, 10 * USEC_PER_SEC);
	struct vigil_exit_event ex;

	for (uint32_t pid = 1001; pid <= 1004; pid++)
		exec_n(c, pid);
	ASSERT_EQ(proc_cache_size(c), 4);
	ASSERT_NOT_NULL(proc_cache_lookup(c, 1001, 0)); /* touch: 1002 is now the LRU */
	exec_n(c, 1005);
	ASSERT_EQ(proc_cache_size(c), 4);
	ASSERT_EQ(proc_cache_evictions(c), 1);
	ASSERT_NULL(proc_cache_lookup(c, 1002, 0));
	ASSERT_NOT_NULL(proc_cache_lookup(c, 1001, 0));

	/* 1004 exits: it goes before the LRU live entry 1003 */
	ex = make_exit(1004, 1004 * TICK, 0, 5000, 0);
	ASSERT_TRUE(proc_cache_on_exit(c, &ex)->exited);
	exec_n(c, 1006);
	ASSERT_EQ(proc_cache_evictions(c), 2);
	ASSERT_NULL(proc_cache_lookup(c, 1004, 0));
	ASSERT_NOT_NULL(proc_cache_lookup(c, 1003, 0));
	ASSERT_NOT_NULL(proc_cache_lookup(c, 1006, 0));
	proc_cache_free(c);
}

TEST(exit_grace_period)
{
	struct proc_cache *c = new_synthetic(100, 30 * USEC_PER_SEC);
	struct vigil_exit_event ex;
	const struct proc_entry *e;
	uint64_t t_exit = 1000 * NSEC_PER_SEC;

	exec_n(c, 2001);
	exec_n(c, 2002);
	ex = make_exit(2001, 2001 * TICK, 0, t_exit, 3 << 8);
	e = proc_cache_on_exit(c, &ex);
	ASSERT_NOT_NULL(e);
	ASSERT_TRUE(e->exited);
	ASSERT_EQ(e->exit_code, 3 << 8);
	ASSERT_FALSE(e->flags & PROC_F_MISS);

	proc_cache_expire(c, t_exit / 1000 + 30 * USEC_PER_SEC - 1);
	ASSERT_NOT_NULL(proc_cache_lookup(c, 2001, 2001 * TICK)); /* late events still resolve */
	proc_cache_expire(c, t_exit / 1000 + 30 * USEC_PER_SEC);
	ASSERT_NULL(proc_cache_lookup(c, 2001, 2001 * TICK));
	ASSERT_NOT_NULL(proc_cache_lookup(c, 2002, 0)); /* live entries never expire */
	ASSERT_EQ(proc_cache_size(c), 1);
	ASSERT_EQ(proc_cache_evictions(c), 0);

	/* exit of a process never seen (and not in /proc): a "miss" entry still carries it */
	ex = make_exit(2999, 77 * TICK, 1, t_exit, 9);
	e = proc_cache_on_exit(c, &ex);
	ASSERT_NOT_NULL(e);
	ASSERT_TRUE(e->flags & PROC_F_MISS);
	ASSERT_EQ(e->ppid, 1);
	ASSERT_STREQ(e->binary, "");
	proc_cache_free(c);
}

/*
 * The fixture's exe and cwd symlinks are not shipped as symlinks ("make dist" dereferences
 * them, and cwd -> / would pull in the whole file system): tests/data/proc/links lists them as
 * "PID NAME TARGET" lines, and the first use copies the tree to a temp dir and creates them.
 */
static char fixture_dir[] = "/tmp/vigil-proc-fixture.XXXXXX";

static void fixture_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fixture_dir);
	(void)!system(cmd);
}

static const char *fixture_root(void)
{
	char *root = fixture_dir;
	static bool made;
	char cmd[512], line[512], path[1024];
	FILE *f;

	if (made)
		return root;
	if (!mkdtemp(root))
		TAP_FAIL("mkdtemp: %s", strerror(errno));
	atexit(fixture_remove);
	snprintf(cmd, sizeof(cmd), "cp -R '%s/.' '%s/'", PROC_FIXTURE_DIR, root);
	if (system(cmd) != 0)
		TAP_FAIL("%s failed", cmd);
	snprintf(path, sizeof(path), "%s/links", root);
	f = fopen(path, "re");
	if (!f)
		TAP_FAIL("open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char pid[32], name[32], target[400];

		/* The target may contain spaces: it is the rest of the line. */
		if (sscanf(line, "%31s %31s %399[^\n]", pid, name, target) != 3)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", root, pid, name);
		if (symlink(target, path) < 0)
			TAP_FAIL("symlink %s: %s", path, strerror(errno));
	}
	fclose(f);
	made = true;
	return root;
}

static struct proc_cache *new_fixture(uint32_t args_max)
{
	struct proc_cache_options o = {
		.node_name = "fixture",
		.proc_root = fixture_root(),
		.args_max = args_max,
	};
	struct proc_cache *c = NULL;

	if (proc_cache_new(&o, &c) < 0)
		TAP_FAIL("proc_cache_new(fixture)");
	return c;
}

static void span_eq(const struct proc_entry *e, struct cgroup_span s, const char *want)
{
	if (s.len != strlen(want) || memcmp(e->cgroup + s.off, want, s.len) != 0)
		TAP_FAIL("%s: span '%.*s' != '%s'", e->cgroup, s.len, e->cgroup + s.off, want);
}

TEST(scan_fixture)
{
	struct proc_cache *c = new_fixture(0);
	const struct proc_entry *init, *sshd, *bash, *py, *ctr, *kt, *sdpam, *par;
	char want[256];

	ASSERT_EQ(proc_cache_scan(c), 7);
	ASSERT_EQ(proc_cache_size(c), 7);
	/* a second scan adds nothing */
	ASSERT_EQ(proc_cache_scan(c), 0);

	init = proc_cache_lookup(c, 1, 2 * TICK);
	ASSERT_NOT_NULL(init);
	ASSERT_STREQ(init->binary, "/usr/lib/systemd/systemd");
	ASSERT_EQ(init->auid, 4294967295u);
	ASSERT_STREQ(init->parent_exec_id, "");
	span_eq(init, init->cg.unit, "init.scope");

	kt = proc_cache_lookup(c, 2, 0);
	ASSERT_NOT_NULL(kt);
	ASSERT_STREQ(kt->binary, ""); /* kernel thread: no image, not an error */
	ASSERT_EQ(kt->argc, 0);
	ASSERT_FALSE(kt->flags & PROC_F_ERROR_BINARY);

	sshd = proc_cache_lookup(c, 812, 0);
	ASSERT_NOT_NULL(sshd);
	ASSERT_EQ(sshd->start_ticks, 1534);
	ASSERT_EQ(sshd->start_boottime, 1534 * TICK);
	ASSERT_TRUE(sshd->flags & PROC_F_PROCFS);
	ASSERT_STREQ(sshd->parent_exec_id, init->exec_id);
	ASSERT_EQ(sshd->argc, 1);
	span_eq(sshd, sshd->cg.unit, "ssh.service");
	span_eq(sshd, sshd->cg.slice, "system.slice");

	bash = proc_cache_lookup(c, 4242, 0);
	ASSERT_NOT_NULL(bash);
	ASSERT_EQ(bash->uid, 1000);
	ASSERT_EQ(bash->egid, 1000);
	ASSERT_EQ(bash->auid, 1000);
	ASSERT_STREQ(bash->cwd, "/home/alice");
	ASSERT_STREQ(bash->cgroup, "/user.slice/user-1000.slice/session-3.scope");
	ASSERT_STREQ(bash->parent_exec_id, sshd->exec_id);
	par = proc_cache_parent(c, bash);
	ASSERT_TRUE(par == sshd);

	py = proc_cache_lookup(c, 4300, 0);
	ASSERT_NOT_NULL(py);
	ASSERT_EQ(py->argc, 4);
	ASSERT_STREQ(py->args + strlen("python3") + 1 + 3, "print(\"hi there\")");
	ASSERT_STREQ(py->cwd, "/home/alice/my dir");
	ASSERT_FALSE(py->argv_truncated);

	ctr = proc_cache_lookup(c, 5001, 0);
	ASSERT_NOT_NULL(ctr);
	span_eq(ctr, ctr->cg.container_id, CID);
	ASSERT_EQ(ctr->cg.runtime, CONTAINER_RUNTIME_DOCKER);

	/* comm with parentheses and spaces must not shift the stat fields */
	sdpam = proc_cache_lookup(c, 1500, 0);
	ASSERT_NOT_NULL(sdpam);
	ASSERT_EQ(sdpam->start_ticks, 1601);
	ASSERT_EQ(sdpam->ppid, 1);
	span_eq(sdpam, sdpam->cg.user_unit, "init.scope");

	/* exec_id is the documented formula over the fixture's boot id */
	ASSERT_TRUE(proc_exec_id("fixture", "5c7d1e2f", 987654, 4242, bash->exe_ino, want,
				 sizeof(want)) > 0);
	ASSERT_STREQ(bash->exec_id, want);
	proc_cache_free(c);
}

TEST(scan_fixture_truncates_args)
{
	struct proc_cache *c = new_fixture(12);
	const struct proc_entry *py;

	ASSERT_OK(proc_cache_scan(c));
	py = proc_cache_lookup(c, 4300, 0);
	ASSERT_NOT_NULL(py);
	ASSERT_TRUE(py->argv_truncated);
	ASSERT_TRUE(py->flags & PROC_F_TRUNC_ARGS);
	ASSERT_EQ(py->args_len, 12);
	ASSERT_EQ(py->argc, 3); /* "python3", "-c", and the cut "p" */
	proc_cache_free(c);
}

TEST(scan_real_proc_finds_self)
{
	struct proc_cache *c = NULL;
	struct proc_cache_options o = {.node_name = "real"};
	const struct proc_entry *self, *parent;
	char exe[4096];
	ssize_t n;
	struct stat st;
	size_t strings = 0, count = 0;

	ASSERT_OK(proc_cache_new(&o, &c));
	ASSERT_GE(proc_cache_scan(c), 2);
	self = proc_cache_lookup(c, getpid(), 0);
	ASSERT_NOT_NULL(self);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_GE(n, 1);
	exe[n] = 0;
	ASSERT_STREQ(self->binary, exe);
	ASSERT_OK(stat(exe, &st));
	ASSERT_EQ(self->exe_ino, st.st_ino);
	ASSERT_EQ(self->euid, geteuid());
	ASSERT_EQ(self->ppid, getppid());
	ASSERT_TRUE(self->flags & PROC_F_PROCFS);
	parent = proc_cache_parent(c, self);
	ASSERT_NOT_NULL(parent);
	ASSERT_STREQ(self->parent_exec_id, parent->exec_id);
	ASSERT_TRUE(self->cgroup[0] == '/');

	/* Measured footprint for docs/event-schema.md "Process cache". */
	for (uint32_t pid = 1; pid < 4194304 && count < proc_cache_size(c); pid++) {
		const struct proc_entry *e = proc_cache_lookup(c, pid, 0);

		if (!e)
			continue;
		count++;
		strings += e->exec_id_len + e->parent_exec_id_len + e->binary_len + e->cwd_len +
			   e->cgroup_len + e->args_len + 6;
	}
	printf("# sizeof(struct proc_entry)=%zu, %zu entries, mean string bytes %zu, "
	       "total %zu bytes incl. table (%zu per entry)\n",
	       sizeof(struct proc_entry), count, count ? strings / count : 0, proc_cache_bytes(c),
	       count ? proc_cache_bytes(c) / count : 0);
	proc_cache_free(c);
}

/*
 * The same process must get the same exec_id whether seen live (kernel start_boottime in ns)
 * or read from /proc (stat field 22, ticks). The child's true start_boottime lies between two
 * CLOCK_BOOTTIME reads around fork(); when both reads fall in the same tick, any ns value in
 * that bracket must map to the tick procfs shows. Retry the rare fork that straddles a tick.
 */
TEST(exec_id_live_equals_procfs)
{
	struct proc_cache_options o = {.node_name = "eq", .max_entries = 64};
	bool done = false;

	for (int attempt = 0; attempt < 50 && !done; attempt++) {
		struct proc_cache *scan = NULL, *live = NULL;
		struct timespec t0, t1;
		uint64_t n0, n1;
		const struct proc_entry *ps, *pl;
		struct exec_buf b;
		struct event_exec x;
		struct stat st;
		char id_scan[256], self_exe[4096];
		static const char args[] = "sleep\0"
					   "30";
		pid_t pid;
		ssize_t k;

		clock_gettime(CLOCK_BOOTTIME, &t0);
		pid = fork();
		if (pid == 0) {
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
			_exit(127);
		}
		clock_gettime(CLOCK_BOOTTIME, &t1);
		ASSERT_GE(pid, 1);
		n0 = (uint64_t)t0.tv_sec * NSEC_PER_SEC + (uint64_t)t0.tv_nsec;
		n1 = (uint64_t)t1.tv_sec * NSEC_PER_SEC + (uint64_t)t1.tv_nsec;

		/* wait until the child has exec'd (its exe is no longer ours) */
		k = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
		ASSERT_GE(k, 1);
		self_exe[k] = 0;
		for (int i = 0; i < 2000; i++) {
			char fn[64], cur[4096];
			ssize_t m;

			snprintf(fn, sizeof(fn), "/proc/%d/exe", pid);
			m = readlink(fn, cur, sizeof(cur) - 1);
			if (m > 0) {
				cur[m] = 0;
				if (!streq(cur, self_exe))
					break;
			}
			usleep(1000);
		}

		if (boottime_to_ticks(n0) != boottime_to_ticks(n1)) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			continue;
		}

		ASSERT_OK(proc_cache_new(&o, &scan));
		ASSERT_OK(proc_cache_new(&o, &live));
		ps = proc_cache_scan_pid(scan, pid);
		ASSERT_NOT_NULL(ps);
		snprintf(id_scan, sizeof(id_scan), "%s", ps->exec_id);

		ASSERT_OK(stat("/bin/sleep", &st));
		x = make_exec(&b, pid, n0 + (n1 - n0) / 2, getpid(), 0, "/usr/bin/sleep", "/", args,
			      sizeof(args), st.st_ino);
		pl = proc_cache_on_exec(live, &x);
		ASSERT_NOT_NULL(pl);
		ASSERT_EQ(pl->start_ticks, ps->start_ticks);
		ASSERT_STREQ(pl->exec_id, id_scan);

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		proc_cache_free(scan);
		proc_cache_free(live);
		done = true;
	}
	ASSERT_TRUE(done);
}

int main(void)
{
	return tap_run();
}
