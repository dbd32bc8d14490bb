// OpenSSL's error queue as one line for our messages.
#pragma once

#include <string>

// The root cause on OpenSSL's error queue (the earliest entry); empties it.
std::string openssl_error();

// The reason text of one packed OpenSSL error code.
std::string openssl_reason(unsigned long code);
