/*
 * Logging for daemons: levels, to stderr (with time) or syslog.  Never pass
 * secrets or telegram text to these functions.
 */
#ifndef KODEN_LOG_H
#define KODEN_LOG_H

enum log_level { LOG_ERR_ = 0, LOG_WARN_ = 1, LOG_INFO_ = 2, LOG_DEBUG_ = 3 };

/* ident: program name; to_syslog: 1 for syslog(3), 0 for stderr. */
void log_init(const char *ident, int level, int to_syslog);
void log_set_level(int level);
/* "error", "warn", "info", "debug" -> level, or -1. */
int log_level_parse(const char *s);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
