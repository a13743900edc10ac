/*
 * witness_http.c - the tlog-witness HTTP interface: a libmicrohttpd server
 * around witness_add_checkpoint, and a libcurl client for logs.
 *
 * The server is a thin shell: it bounds and collects the body, hands it to
 * the core, and sends back the status and text the core decided on.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "audit/witness.h"
#include "common/banned.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define ADD_CHECKPOINT "/add-checkpoint"
/* "/" HEX "/checkpoint" (tlog-witness, monitor retrieval mechanism) */
#define MONITOR_SUFFIX "/checkpoint"
#define HEX_LEN 64
#define MAX_URL 2048

struct witness_server {
	struct MHD_Daemon *d;
	struct witness *w;
	unsigned port;
};

/* Per-request state, from the first call of the handler to completion. */
struct request {
	char *body;
	size_t len;
	int too_big;
};

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *ctype,
    char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	/* MHD frees body with free() once sent. */
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    ctype) != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
reply_static(struct MHD_Connection *c, unsigned status, const char *msg,
    const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(msg), (void *)msg,
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    TEXT_PLAIN) != MHD_YES || (allow != NULL &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* GET /HEX/checkpoint: the stored checkpoint, or 404. */
static enum MHD_Result
serve_monitor(struct witness_server *s, struct MHD_Connection *c,
    const char *url)
{
	char hex[HEX_LEN + 1], *note = NULL;
	size_t len = 0;
	int r;

	memcpy(hex, url + 1, HEX_LEN);
	hex[HEX_LEN] = '\0';
	r = witness_checkpoint_by_hash(s->w, hex, &note, &len);
	if (r == ERR_NOTFOUND || r == ERR_FORMAT)
		return reply_static(c, MHD_HTTP_NOT_FOUND,
		    "no checkpoint cosigned for this log\n", NULL);
	if (r != ERR_OK)
		return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal error\n", NULL);
	return reply(c, MHD_HTTP_OK, TEXT_PLAIN, note, len);
}

static int
is_monitor_url(const char *url)
{
	size_t n = strlen(url);

	return n == 1 + HEX_LEN + strlen(MONITOR_SUFFIX) && url[0] == '/' &&
	    strcmp(url + 1 + HEX_LEN, MONITOR_SUFFIX) == 0;
}

/* A declared Content-Length over the limit is refused before reading. */
static int
content_length_too_big(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t v = 0;

	if (cl == NULL)
		return 0;
	for (const char *p = cl; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;	/* MHD itself refuses a bad length */
		if (v > WITNESS_MAX_BODY)
			return 1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return v > WITNESS_MAX_BODY;
}

/* The core logs its decisions; this one is taken before the core sees it. */
static void
log_too_big(const struct witness_server *s)
{
	if (!witness_is_quiet(s->w))
		fprintf(stderr, "witness: add-checkpoint origin \"-\" old - "
		    "size -: 413 request body too large\n");
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct witness_server *s = cls;
	struct request *req = *con_cls;
	char *resp = NULL;
	size_t resp_len = 0;
	int status = 500, r;

	(void)version;
	if (req == NULL) {
		/* First call: the headers are in, the body is not. */
		if (strcmp(url, ADD_CHECKPOINT) == 0) {
			/* "The request MUST be an HTTP POST." */
			if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
				return reply_static(c,
				    MHD_HTTP_METHOD_NOT_ALLOWED,
				    "use POST\n", MHD_HTTP_METHOD_POST);
			if (content_length_too_big(c)) {
				log_too_big(s);
				return reply_static(c,
				    MHD_HTTP_CONTENT_TOO_LARGE,
				    "request body too large\n", NULL);
			}
			if ((req = calloc(1, sizeof(*req))) == NULL)
				return MHD_NO;
			*con_cls = req;
			return MHD_YES;
		}
		if (is_monitor_url(url)) {
			if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
				return reply_static(c,
				    MHD_HTTP_METHOD_NOT_ALLOWED,
				    "use GET\n", MHD_HTTP_METHOD_GET);
			return serve_monitor(s, c, url);
		}
		return reply_static(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	}

	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;

		if (req->too_big || n > WITNESS_MAX_BODY - req->len) {
			/*
			 * A chunked body grew past the limit. Answer now if
			 * MHD lets us, else drop the connection: never read
			 * on without bound.
			 */
			if (req->too_big)
				return MHD_NO;
			req->too_big = 1;
			*upload_data_size = 0;
			log_too_big(s);
			return reply_static(c, MHD_HTTP_CONTENT_TOO_LARGE,
			    "request body too large\n", NULL);
		}
		if (req->body == NULL &&
		    (req->body = malloc(WITNESS_MAX_BODY)) == NULL)
			return MHD_NO;
		memcpy(req->body + req->len, upload_data, n);
		req->len += n;
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* The whole body is in (and never a cut-off one). */
	if (req->too_big)
		return MHD_NO;
	r = witness_add_checkpoint(s->w, req->body, req->len, &status, &resp,
	    &resp_len);
	if (r != ERR_OK || resp == NULL)
		return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal error\n", NULL);
	return reply(c, (unsigned)status,
	    status == MHD_HTTP_CONFLICT ? WITNESS_SIZE_CONTENT_TYPE : TEXT_PLAIN,
	    resp, resp_len);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (req == NULL)
		return;
	free(req->body);
	free(req);
	*con_cls = NULL;
}

int
witness_parse_listen(const char *s, char **addrp, unsigned *portp)
{
	const char *colon, *host, *host_end, *p;
	unsigned long port = 0;
	char *addr;

	*addrp = NULL;
	*portp = 0;
	if (s[0] == '[') {
		host = s + 1;
		if ((host_end = strchr(host, ']')) == NULL || host_end[1] != ':')
			return ERR_FORMAT;
		colon = host_end + 1;
	} else {
		host = s;
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			return ERR_FORMAT;
		host_end = colon;
	}
	if (host_end == host || colon[1] == '\0' || strlen(colon + 1) > 5)
		return ERR_FORMAT;
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return ERR_FORMAT;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535)
		return ERR_RANGE;
	if ((addr = strndup(host, (size_t)(host_end - host))) == NULL)
		return ERR_NOMEM;
	*addrp = addr;
	*portp = (unsigned)port;
	return ERR_OK;
}

/*
 * Binds the listening socket ourselves, so that a failure keeps its errno
 * (EADDRINUSE, EACCES) for the caller's message.
 */
static int
listen_on(const char *addr, unsigned port, int *fdp)
{
	struct addrinfo hints, *ai = NULL;
	char portstr[8];
	int fd = -1, one = 1, r = ERR_INTERNAL, saved;

	*fdp = -1;
	if (port > 65535)
		return ERR_RANGE;
	snprintf(portstr, sizeof(portstr), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(addr, portstr, &hints, &ai) != 0 || ai == NULL) {
		errno = EINVAL;
		return ERR_INVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		r = ERR_IO;
		goto out;
	}
	*fdp = fd;
	fd = -1;
	r = ERR_OK;
 out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	errno = saved;
	return r;
}

int
witness_server_start(struct witness *w, const char *addr, unsigned port,
    struct witness_server **out)
{
	struct witness_server *s = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd = -1, r = ERR_INTERNAL;

	*out = NULL;
	if ((r = listen_on(addr, port, &fd)) != ERR_OK)
		return r;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
		r = ERR_IO;
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	s->w = w;
	s->port = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	/*
	 * A few threads so that a slow client cannot stall the others;
	 * witness_add_checkpoint serialises what must be serialised.
	 */
	s->d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
	    (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
	    handle, s,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)4,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)256,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		r = ERR_IO;
		goto out;
	}
	fd = -1;	/* the daemon owns and closes it */
	*out = s;
	s = NULL;
	r = ERR_OK;
 out:
	if (fd >= 0)
		close(fd);
	free(s);
	return r;
}

unsigned
witness_server_port(const struct witness_server *s)
{
	return s->port;
}

void
witness_server_stop(struct witness_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

int
witness_serve(struct witness *w, const char *addr, unsigned port,
    volatile sig_atomic_t *stop)
{
	struct sigaction sa, old_term, old_int;
	struct witness_server *s = NULL;
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	int r;

	got_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, &old_term) != 0)
		return ERR_INTERNAL;
	if (sigaction(SIGINT, &sa, &old_int) != 0) {
		sigaction(SIGTERM, &old_term, NULL);
		return ERR_INTERNAL;
	}
	if ((r = witness_server_start(w, addr, port, &s)) != ERR_OK)
		goto out;
	fprintf(stderr, strchr(addr, ':') != NULL ?
	    "listening on http://[%s]:%u as '%s'\n" :
	    "listening on http://%s:%u as '%s'\n",
	    addr, witness_server_port(s), witness_name(w));
	while (!got_signal && (stop == NULL || !*stop))
		nanosleep(&tick, NULL);
	witness_server_stop(s);
	fprintf(stderr, "witness stopped\n");
	r = ERR_OK;
 out:
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	return r;
}

/* ---- Client. ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void
curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	char *buf;
	size_t len;
	int too_big;
};

static size_t
sink_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *k = userdata;
	size_t n = size * nmemb;	/* curl: size is always 1 */

	if (n > WITNESS_MAX_RESPONSE - k->len) {
		k->too_big = 1;
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
	}
	memcpy(k->buf + k->len, ptr, n);
	k->len += n;
	return n;
}

/* The add-checkpoint endpoint under a submission prefix, malloc'd. */
static int
endpoint(const char *url, char **out)
{
	size_t len = strlen(url);
	char *buf;

	*out = NULL;
	if (len == 0 || len > MAX_URL)
		return ERR_INVAL;
	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0)
		return ERR_INVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return ERR_INVAL;
	while (len > 0 && url[len - 1] == '/')
		len--;
	if ((buf = malloc(len + sizeof(ADD_CHECKPOINT))) == NULL)
		return ERR_NOMEM;
	memcpy(buf, url, len);
	memcpy(buf + len, ADD_CHECKPOINT, sizeof(ADD_CHECKPOINT));
	*out = buf;
	return ERR_OK;
}

int
witness_client_add_checkpoint(const char *url, uint64_t old_size,
    const uint8_t proof[][MERKLE_HASH_LEN], size_t nproof, const char *note,
    size_t note_len, int *http_status, char **resp, size_t *resp_len)
{
	struct curl_slist *headers = NULL, *h;
	struct sink k = { NULL, 0, 0 };
	char *ep = NULL, *body = NULL;
	size_t body_len = 0;
	CURL *curl = NULL;
	CURLcode cc;
	long code = 0;
	int r = ERR_INTERNAL;

	*http_status = 0;
	*resp = NULL;
	*resp_len = 0;
	if ((r = endpoint(url, &ep)) != ERR_OK)
		return r;
	if ((r = witness_request_format(old_size, proof, nproof, note, note_len,
	    &body, &body_len)) != ERR_OK)
		goto out;
	if (body_len > WITNESS_MAX_BODY) {
		r = ERR_TOOBIG;
		goto out;
	}
	if (pthread_once(&curl_once, curl_init) != 0 ||
	    curl_init_result != CURLE_OK) {
		r = ERR_NETWORK;
		goto out;
	}
	if ((k.buf = malloc(WITNESS_MAX_RESPONSE + 1)) == NULL ||
	    (curl = curl_easy_init()) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	if ((h = curl_slist_append(headers, "Content-Type: " TEXT_PLAIN)) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	headers = h;
	/* No "Expect: 100-continue" round trip: the body is small. */
	if ((h = curl_slist_append(headers, "Expect:")) == NULL) {
		r = ERR_NOMEM;
		goto out;
	}
	headers = h;
	if (curl_easy_setopt(curl, CURLOPT_URL, ep) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)WITNESS_MAX_RESPONSE) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "bulwark-witness-client")
	    != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body_len) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink_write) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &k) != CURLE_OK) {
		r = ERR_INTERNAL;
		goto out;
	}
	cc = curl_easy_perform(curl);
	if (k.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		r = ERR_TOOBIG;
		goto out;
	}
	if (cc != CURLE_OK) {
		r = ERR_NETWORK;
		goto out;
	}
	if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
	    code < 100 || code > 599) {
		r = ERR_NETWORK;
		goto out;
	}
	k.buf[k.len] = '\0';
	*http_status = (int)code;
	*resp = k.buf;
	*resp_len = k.len;
	k.buf = NULL;
	r = ERR_OK;
 out:
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	free(k.buf);
	free(body);
	free(ep);
	return r;
}
