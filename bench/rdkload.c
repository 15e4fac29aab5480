/* rdkload: a lean librdkafka load generator for bench/broker.py (issue 4).
 *
 * Why: kcat is a convenience CLI - it reads a file line by line and calls
 * rd_kafka_producev once per record, and its own thread then costs more CPU than
 * the broker under test. This program does only what the benchmark needs, so the
 * client's cost on the shared two cores is as small as librdkafka allows:
 *
 *   rdkload produce BOOTSTRAP TOPIC PARTITIONS N [key=value ...]
 *       N records of 100 bytes handed to rd_kafka_produce_batch in chunks of 10,000,
 *       each chunk to the next partition (round robin), straight from one pre-built
 *       buffer (no copy: the buffer outlives every delivery), then waits for every
 *       delivery report; any failed report is an error (exit 1).
 *   rdkload consume BOOTSTRAP TOPIC PARTITIONS N [key=value ...]
 *       assigns every partition from the beginning and reads N records with
 *       rd_kafka_consume_batch_queue; an error message is an error (exit 1).
 *
 * key=value pairs are librdkafka properties (the bench passes the same ones it gives
 * kcat with -X). The clock starts after a metadata request has connected the client
 * and stops when the last delivery report / record arrives. Output, one line:
 *   records=N elapsed=SECONDS rate=RECORDS_PER_SECOND
 *
 * Only long-stable public API is used (rd_kafka_new, conf_set, produce_batch,
 * consume_batch_queue, assign, metadata), so it builds against Debian's 2.0.2 headers
 * and runs on the newer librdkafka that confluent-kafka's wheel bundles.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define RECORD_BYTES 100
#define CHUNK 10000

static long long delivered, failed;
static rd_kafka_resp_err_t first_error;
static int dr_errors_only; /* delivery.report.only.error=true: reports for failures only */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "rdkload: %s: %s\n", what, detail);
    exit(1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (!failed)
            first_error = m->err;
        failed++;
    }
    delivered++;
}

static rd_kafka_conf_t *make_conf(int argc, char **argv, const char *bootstrap) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK)
        die("config", err);
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            die("expected key=value", argv[i]);
        *eq = '\0';
        if (!strcmp(argv[i], "delivery.report.only.error"))
            dr_errors_only = !strcmp(eq + 1, "true");
        if (rd_kafka_conf_set(conf, argv[i], eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK)
            die("config", err);
    }
    return conf;
}

/* Connect (and learn the topic's leaders) before the clock starts. */
static void connect_topic(rd_kafka_t *rk, rd_kafka_topic_t *rkt) {
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (e)
        die("metadata", rd_kafka_err2str(e));
    rd_kafka_metadata_destroy(md);
}

static double produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int partitions, long long n) {
    static char payload[RECORD_BYTES];
    memset(payload, 'x', sizeof payload);
    rd_kafka_message_t *msgs = calloc(CHUNK, sizeof *msgs);
    if (!msgs)
        die("calloc", "out of memory");
    connect_topic(rk, rkt);
    double t0 = now();
    long long next = 0; /* next record to hand over */
    int pending = 0;    /* msgs[0..pending): refused (local queue full), handed over again */
    int32_t partition = 0;
    while (next < n || pending) {
        int count = pending;
        for (; count < CHUNK && next < n; count++, next++) {
            memset(&msgs[count], 0, sizeof msgs[count]);
            msgs[count].payload = payload;
            msgs[count].len = RECORD_BYTES;
        }
        /* One partition per call, round robin over the calls: librdkafka then takes the
         * partition's lock once per call instead of once per record (RD_KAFKA_MSG_F_PARTITION
         * or the partitioner). Flags without F_COPY: it keeps a pointer to the payload. */
        rd_kafka_produce_batch(rkt, partition, 0, msgs, count);
        pending = 0;
        for (int i = 0; i < count; i++) {
            if (msgs[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                continue;
            if (msgs[i].err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("produce", rd_kafka_err2str(msgs[i].err));
            msgs[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
            msgs[pending++] = msgs[i];
        }
        if (!pending) /* refused records go to the same partition again */
            partition = (partition + 1) % partitions;
        rd_kafka_poll(rk, pending ? 5 : 0);
    }
    /* flush serves the delivery reports until nothing is queued or in flight */
    while (rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
        ;
    double elapsed = now() - t0;
    free(msgs);
    if (!failed && delivered != n && !dr_errors_only) {
        fprintf(stderr, "rdkload: %lld delivery reports for %lld records\n", delivered, n);
        exit(1);
    }
    if (failed) {
        fprintf(stderr, "rdkload: %lld of %lld deliveries failed, first: %s\n", failed, n, rd_kafka_err2str(first_error));
        exit(1);
    }
    return elapsed;
}

static double consume(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const char *topic, int partitions, long long n) {
    rd_kafka_message_t **batch = malloc(CHUNK * sizeof *batch);
    if (!batch)
        die("malloc", "out of memory");
    rd_kafka_poll_set_consumer(rk);
    connect_topic(rk, rkt);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
    double t0 = now();
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    if (e)
        die("assign", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(parts);
    long long got = 0;
    double idle_since = now();
    while (got < n) {
        ssize_t k = rd_kafka_consume_batch_queue(queue, 1000, batch, CHUNK);
        if (k < 0)
            die("consume", rd_kafka_err2str(rd_kafka_last_error()));
        for (ssize_t i = 0; i < k; i++) {
            if (batch[i]->err && batch[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                die("consume", rd_kafka_message_errstr(batch[i]));
            if (!batch[i]->err)
                got++;
            rd_kafka_message_destroy(batch[i]);
        }
        if (k > 0)
            idle_since = now();
        else if (now() - idle_since > 60)
            die("consume", "no records for 60 s");
    }
    double elapsed = now() - t0;
    rd_kafka_queue_destroy(queue);
    rd_kafka_consumer_close(rk);
    free(batch);
    if (got != n) {
        fprintf(stderr, "rdkload: consumed %lld of %lld\n", got, n);
        exit(1);
    }
    return elapsed;
}

int main(int argc, char **argv) {
    if (argc < 6 || (strcmp(argv[1], "produce") && strcmp(argv[1], "consume"))) {
        fprintf(stderr, "usage: rdkload produce|consume BOOTSTRAP TOPIC PARTITIONS N [key=value ...]\n");
        return 2;
    }
    int producing = !strcmp(argv[1], "produce");
    const char *topic = argv[3];
    int partitions = atoi(argv[4]);
    long long n = atoll(argv[5]);
    if (partitions < 1 || n < 1)
        die("arguments", "PARTITIONS and N must be positive");
    rd_kafka_conf_t *conf = make_conf(argc - 6, argv + 6, argv[2]);
    char err[512];
    if (producing) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    } else {
        char group[64];
        snprintf(group, sizeof group, "rdkload-%ld", (long)time(NULL));
        if (rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) != RD_KAFKA_CONF_OK)
            die("config", err);
    }
    rd_kafka_t *rk = rd_kafka_new(producing ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        die("rd_kafka_new", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    double elapsed = producing ? produce(rk, rkt, partitions, n) : consume(rk, rkt, topic, partitions, n);
    printf("records=%lld elapsed=%.6f rate=%.0f\n", n, elapsed, n / elapsed);
    fflush(stdout);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return 0;
}
