/* Guard: common/domain is pure code. This header shadows <librdkafka/rdkafka_mock.h> on the
 * domain's include path so that including it there fails the build. */
#error                                                                                             \
    "the domain library links no Kafka, Redis or HTTP code: <librdkafka/rdkafka_mock.h> belongs in common/runtime"
