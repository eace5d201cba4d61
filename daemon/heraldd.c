/* SPDX-License-Identifier: Apache-2.0 */
/*
 * heraldd.c - the engine's entry point: settings, data directory, cores,
 * signals.
 *
 * Data directory layout (created on first start):
 *   herald.meta    text, one "key value" per line:
 *                    herald-data-version 1
 *                    partitions <n>          fixed for the life of the data
 *                    hash-key <32 hex>       keys the partition hash
 *                    created-unix-ms <ms>
 *   admin.secret   64 lowercase hex digits and a newline, mode 0600
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "io/reactor.h"
#include "net/server.h"
#include "store/log.h"

#define HERALDD_VERSION "0.1.0"

struct settings {
	const char *listen;
	const char *data_dir;
	unsigned cores;
	unsigned partitions;
	unsigned read_timeout_ms;
	bool pin;
	const char *wake;
	const char *log_level;
	const char *fsync;
	unsigned fsync_interval_ms;
	unsigned segment_mb;
	unsigned compact_mb;
	const char *lz4;
	unsigned event_segment_mb;
	const char *event_window;
	const char *retention;
	const char *vendor_sink;
};

/* "90s", "15m", "1h", "30d" -> milliseconds; 0 or -1. */
static int parse_duration(const char *s, uint64_t min_ms, uint64_t *ms)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t unit = 0;
	if (end != s && !errno && end[0] && !end[1])
		unit = end[0] == 's' ? 1000u : end[0] == 'm' ? 60000u : end[0] == 'h' ? 3600000u : end[0] == 'd' ? 86400000u : 0;
	if (!unit || s[0] == '-' || v > 100ull * 365 * 86400000 / unit || v * unit < min_ms)
		return -1;
	*ms = v * unit;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: heraldd [options]\n"
		"\n"
		"Herald engine: one io_uring reactor per core, wire protocol v1.\n"
		"Every setting has a working default; no config file is needed.\n"
		"\n"
		"  --listen HOST:PORT     address to listen on            (default 127.0.0.1:7600)\n"
		"  --data DIR             data directory, created if absent (default ./var)\n"
		"  --cores N              reactor threads, one per core     (default: all online CPUs)\n"
		"  --partitions N         user partitions; fixed when DIR is created (default %u)\n"
		"  --read-timeout-ms MS   close a connection that sends part of a frame and then\n"
		"                         nothing for MS milliseconds      (default %u)\n"
		"  --no-pin               do not pin core threads to CPUs   (default: pinned)\n"
		"  --wake MODE            cross-core wake-up: auto, msg_ring or eventfd (default auto)\n"
		"  --fsync MODE           always: answer a change once it is on disk (fdatasync,\n"
		"                         group commit); interval: answer at once and sync every\n"
		"                         --fsync-interval-ms, losing at most that much on a crash\n"
		"                         (default always)\n"
		"  --fsync-interval-ms MS sync period in interval mode       (default %u)\n"
		"  --segment-mb MB        size of a log segment file         (default %llu)\n"
		"  --compact-mb MB        rewrite live records and delete old segments after\n"
		"                         this much has been written; 0: only at start-up (default 128)\n"
		"  --lz4 on|off           rewrite sealed log segments in LZ4 form when that saves\n"
		"                         at least a tenth, in the background (default on)\n"
		"  --event-segment-mb MB  size of a receipt segment file, 8 at least (default 64)\n"
		"  --event-window DUR     a receipt segment covers at most this much time, so\n"
		"                         that retention can delete it whole: 90s, 15m, 1h, 1d\n"
		"                         (default 1h)\n"
		"  --retention DUR        delete receipts older than this, a segment at a time;\n"
		"                         counters keep their counts (default 30d)\n"
		"  --vendor-sink SINK     http: campaigns call the vendors set by VENDOR_SET;\n"
		"                         null: every address is accepted at once, no call is\n"
		"                         made (measuring the engine alone) (default http)\n"
		"  --log-level LEVEL      debug, info, warn or error        (default info)\n"
		"  --version              print the version and exit\n"
		"  --help                 this text\n"
		"\n"
		"On first start the admin secret is written to DIR/admin.secret (mode 0600);\n"
		"use it with `herald --secret-file DIR/admin.secret app create NAME`.\n"
		"SIGTERM or SIGINT: stop accepting, answer requests in flight, exit.\n"
		"HERALD_FAULTS=kind@n,... injects store faults for tests (see store/log.h).\n",
		HRL_PARTITIONS_DEFAULT, HRL_READ_STALL_MS_DEFAULT, HRL_FSYNC_INTERVAL_MS_DEFAULT,
		(unsigned long long)(HRL_SEGMENT_BYTES_DEFAULT >> 20));
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static void hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int hex_decode(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + (size_t)k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int random_bytes(uint8_t *p, size_t n)
{
	return getrandom(p, n, 0) == (ssize_t)n ? 0 : -EIO;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	chmod(tmp, mode);
	int ok = fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path))
		return -EIO;
	return 0;
}

/* Create or open the data directory; fills partitions, hash key, admin secret. */
static int data_dir_open(const char *dir, unsigned want_partitions, bool partitions_given,
			 struct net_config *cfg)
{
	char path[4096], line[256];
	uint8_t key[16];

	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "heraldd: cannot create data directory %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/herald.meta", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		char hex[33], text[512];
		if (random_bytes(key, sizeof(key)))
			return -EIO;
		hex_encode(key, sizeof(key), hex);
		snprintf(text, sizeof(text),
			 "herald-data-version 1\npartitions %u\nhash-key %s\ncreated-unix-ms %llu\n",
			 want_partitions, hex, (unsigned long long)time(NULL) * 1000ull);
		int rc = write_file(path, text, 0644);
		if (rc) {
			fprintf(stderr, "heraldd: cannot write %s: %s\n", path, strerror(-rc));
			return rc;
		}
		cfg->partitions = want_partitions;
		base_log(BASE_LOG_INFO, "msg=\"data directory created\" dir=%s partitions=%u", dir, want_partitions);
	} else {
		bool have_key = false, have_parts = false;
		unsigned version = 0;
		while (fgets(line, sizeof(line), f)) {
			char k[64], v[128];
			if (sscanf(line, "%63s %127s", k, v) != 2)
				continue;
			if (!strcmp(k, "herald-data-version"))
				parse_uint(v, 1, 1000, &version);
			else if (!strcmp(k, "partitions"))
				have_parts = parse_uint(v, 1, HRL_PARTITIONS_MAX, &cfg->partitions) == 0;
			else if (!strcmp(k, "hash-key"))
				have_key = strlen(v) == 32 && hex_decode(v, key, sizeof(key)) == 0;
		}
		fclose(f);
		if (version != 1 || !have_parts || !have_key) {
			fprintf(stderr, "heraldd: %s is damaged or of another version\n", path);
			return -EINVAL;
		}
		if (partitions_given && want_partitions != cfg->partitions) {
			fprintf(stderr, "heraldd: %s was created with %u partitions; --partitions %u cannot change it\n",
				dir, cfg->partitions, want_partitions);
			return -EINVAL;
		}
	}
	memcpy(&cfg->hash_key.k0, key, 8);
	memcpy(&cfg->hash_key.k1, key + 8, 8);

	snprintf(path, sizeof(path), "%s/admin.secret", dir);
	f = fopen(path, "r");
	if (!f) {
		char hex[2 * HRL_SECRET_BYTES + 2];
		if (random_bytes(cfg->admin_secret, HRL_SECRET_BYTES))
			return -EIO;
		hex_encode(cfg->admin_secret, HRL_SECRET_BYTES, hex);
		strcat(hex, "\n");
		int rc = write_file(path, hex, 0600);
		if (rc) {
			fprintf(stderr, "heraldd: cannot write %s: %s\n", path, strerror(-rc));
			return rc;
		}
		base_log(BASE_LOG_INFO, "msg=\"admin secret created\" file=%s", path);
	} else {
		bool ok = fgets(line, sizeof(line), f) && strlen(line) >= 2 * HRL_SECRET_BYTES &&
			  hex_decode(line, cfg->admin_secret, HRL_SECRET_BYTES) == 0;
		fclose(f);
		if (!ok) {
			fprintf(stderr, "heraldd: %s must hold 64 hex digits\n", path);
			return -EINVAL;
		}
	}
	return 0;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct settings st = {
		.listen = "127.0.0.1:7600",
		.data_dir = "./var",
		.cores = 0,
		.partitions = HRL_PARTITIONS_DEFAULT,
		.read_timeout_ms = HRL_READ_STALL_MS_DEFAULT,
		.pin = true,
		.wake = "auto",
		.log_level = "info",
		.fsync = "always",
		.fsync_interval_ms = HRL_FSYNC_INTERVAL_MS_DEFAULT,
		.segment_mb = (unsigned)(HRL_SEGMENT_BYTES_DEFAULT >> 20),
		.compact_mb = 128,
		.lz4 = "on",
		.event_segment_mb = 64,
		.event_window = "1h",
		.retention = "30d",
		.vendor_sink = "http",
	};
	bool partitions_given = false;
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "cores", required_argument, NULL, 'c' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "read-timeout-ms", required_argument, NULL, 't' },
		{ "no-pin", no_argument, NULL, 'P' },
		{ "wake", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "fsync", required_argument, NULL, 'f' },
		{ "fsync-interval-ms", required_argument, NULL, 'i' },
		{ "segment-mb", required_argument, NULL, 's' },
		{ "compact-mb", required_argument, NULL, 'k' },
		{ "lz4", required_argument, NULL, 'z' },
		{ "event-segment-mb", required_argument, NULL, 'E' },
		{ "event-window", required_argument, NULL, 'W' },
		{ "retention", required_argument, NULL, 'R' },
		{ "vendor-sink", required_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	unsigned ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	int o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'l': st.listen = optarg; break;
		case 'd': st.data_dir = optarg; break;
		case 'c':
			if (parse_uint(optarg, 1, HRL_CORES_MAX, &st.cores)) {
				fprintf(stderr, "heraldd: --cores takes 1..%u\n", HRL_CORES_MAX);
				return 2;
			}
			break;
		case 'p':
			if (parse_uint(optarg, 1, HRL_PARTITIONS_MAX, &st.partitions)) {
				fprintf(stderr, "heraldd: --partitions takes 1..%u\n", HRL_PARTITIONS_MAX);
				return 2;
			}
			partitions_given = true;
			break;
		case 't':
			if (parse_uint(optarg, 10, 3600000, &st.read_timeout_ms)) {
				fprintf(stderr, "heraldd: --read-timeout-ms takes 10..3600000\n");
				return 2;
			}
			break;
		case 'P': st.pin = false; break;
		case 'w': st.wake = optarg; break;
		case 'L': st.log_level = optarg; break;
		case 'f': st.fsync = optarg; break;
		case 'i':
			if (parse_uint(optarg, 1, 60000, &st.fsync_interval_ms)) {
				fprintf(stderr, "heraldd: --fsync-interval-ms takes 1..60000\n");
				return 2;
			}
			break;
		case 'z': st.lz4 = optarg; break;
		case 'E':
			if (parse_uint(optarg, 8, 4000, &st.event_segment_mb)) {
				fprintf(stderr, "heraldd: --event-segment-mb takes 8..4000\n");
				return 2;
			}
			break;
		case 'W': st.event_window = optarg; break;
		case 'R': st.retention = optarg; break;
		case 'S': st.vendor_sink = optarg; break;
		case 'k':
			if (parse_uint(optarg, 0, 1000000, &st.compact_mb)) {
				fprintf(stderr, "heraldd: --compact-mb takes 0..1000000\n");
				return 2;
			}
			break;
		case 's':
			if (parse_uint(optarg, 1, 4000, &st.segment_mb)) {
				fprintf(stderr, "heraldd: --segment-mb takes 1..4000\n");
				return 2;
			}
			break;
		case 'V': printf("heraldd %s\n", HERALDD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "heraldd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (base_log_parse_level(st.log_level, &base_log_min)) {
		fprintf(stderr, "heraldd: --log-level takes debug, info, warn or error\n");
		return 2;
	}
	if (strcmp(st.wake, "eventfd") == 0)
		iou_force_eventfd = true;
	else if (strcmp(st.wake, "auto") != 0 && strcmp(st.wake, "msg_ring") != 0) {
		fprintf(stderr, "heraldd: --wake takes auto, msg_ring or eventfd\n");
		return 2;
	}

	struct net_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	if (strcmp(st.fsync, "always") == 0) {
		cfg.log.fsync_mode = STO_FSYNC_ALWAYS;
	} else if (strcmp(st.fsync, "interval") == 0) {
		cfg.log.fsync_mode = STO_FSYNC_INTERVAL;
	} else {
		fprintf(stderr, "heraldd: --fsync takes always or interval\n");
		return 2;
	}
	cfg.log.fsync_interval_ms = st.fsync_interval_ms;
	cfg.log.segment_bytes = (uint64_t)st.segment_mb << 20;
	cfg.compact_bytes = (uint64_t)st.compact_mb << 20;
	if (strcmp(st.lz4, "on") == 0) {
		cfg.log.lz4 = true;
	} else if (strcmp(st.lz4, "off") != 0) {
		fprintf(stderr, "heraldd: --lz4 takes on or off\n");
		return 2;
	}
	if (sto_faults_parse(getenv("HERALD_FAULTS"))) {
		fprintf(stderr, "heraldd: HERALD_FAULTS must be kind@n[,kind@n...]\n");
		return 2;
	}
	snprintf(cfg.log_dir, sizeof(cfg.log_dir), "%s/log", st.data_dir);
	snprintf(cfg.events_dir, sizeof(cfg.events_dir), "%s/events", st.data_dir);
	cfg.events.fsync_mode = cfg.log.fsync_mode;
	cfg.events.fsync_interval_ms = cfg.log.fsync_interval_ms;
	cfg.events.segment_bytes = (uint64_t)st.event_segment_mb << 20;
	if (parse_duration(st.event_window, 1000, &cfg.events.window_ms)) {
		fprintf(stderr, "heraldd: --event-window takes a duration of 1s or more: 90s, 15m, 1h, 1d\n");
		return 2;
	}
	if (strcmp(st.vendor_sink, "http") && strcmp(st.vendor_sink, "null")) {
		fprintf(stderr, "heraldd: --vendor-sink takes http or null\n");
		return 2;
	}
	cfg.fanout_null_sink = !strcmp(st.vendor_sink, "null");
	if (parse_duration(st.retention, 1000, &cfg.retention_ms)) {
		fprintf(stderr, "heraldd: --retention takes a duration of 1s or more: 3600s, 48h, 30d\n");
		return 2;
	}
	const char *colon = strrchr(st.listen, ':');
	unsigned port;
	if (!colon || (size_t)(colon - st.listen) >= sizeof(cfg.listen_host) || colon == st.listen ||
	    parse_uint(colon + 1, 0, 65535, &port)) {
		fprintf(stderr, "heraldd: --listen takes IPv4-HOST:PORT, e.g. 127.0.0.1:7600\n");
		return 2;
	}
	memcpy(cfg.listen_host, st.listen, (size_t)(colon - st.listen));
	cfg.listen_port = (uint16_t)port;
	cfg.cores = st.cores ? st.cores : (ncpu ? ncpu : 1);
	cfg.pin = st.pin;
	cfg.read_stall_ms = st.read_timeout_ms;
	if (data_dir_open(st.data_dir, st.partitions, partitions_given, &cfg))
		return 1;
	if (cfg.partitions < cfg.cores) {
		fprintf(stderr, "heraldd: %u partitions cannot feed %u cores\n", cfg.partitions, cfg.cores);
		return 1;
	}
	raise_fd_limit();

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* core threads inherit the mask */
	signal(SIGPIPE, SIG_IGN);

	static struct net_server srv;
	int rc = net_server_init(&srv, &cfg);
	if (rc) {
		fprintf(stderr, "heraldd: cannot listen on %s: %s\n", st.listen, strerror(-rc));
		return 1;
	}
	rc = net_server_start(&srv);
	if (rc) {
		fprintf(stderr, "heraldd: cannot start core threads: %s\n", strerror(-rc));
		return 1;
	}
	printf("heraldd %s: listening on %s:%u with %u cores, %u partitions, data in %s\n",
	       HERALDD_VERSION, cfg.listen_host, srv.cfg.listen_port, cfg.cores, cfg.partitions, st.data_dir);
	printf("heraldd: admin secret in %s/admin.secret; stop with Ctrl-C or SIGTERM\n", st.data_dir);
	fflush(stdout);

	int sig = 0;
	sigwait(&sigs, &sig);
	base_log(BASE_LOG_INFO, "msg=\"signal received, draining\" signal=%d", sig);
	net_server_request_stop(&srv);
	net_server_wait(&srv);
	base_log(BASE_LOG_INFO, "msg=\"stopped\"");
	return 0;
}
