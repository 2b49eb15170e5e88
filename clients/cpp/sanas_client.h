// Small helpers for C++ clients of sanas.v1.ControllerService: the error reason a status
// carries (google.rpc.ErrorInfo in the status details, read with protobuf's generic
// wire-format parser), whether a search has finished, and whether to retry.
#pragma once

#include <string>

#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/grpcpp.h>

namespace sanas {

// Field numbers of google.rpc.Status.details, google.protobuf.Any and google.rpc.ErrorInfo.
inline constexpr int kStatusDetails = 3;
inline constexpr int kAnyTypeUrl = 1;
inline constexpr int kAnyValue = 2;
inline constexpr int kErrorInfoReason = 1;
inline constexpr int kErrorInfoDomain = 2;

// The sanas.v1.ErrorReason name of a controller error, or "" when it carries none.
inline std::string ErrorReason(const grpc::Status& status) {
  google::protobuf::UnknownFieldSet rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return "";
  for (int i = 0; i < rpc_status.field_count(); ++i) {
    const auto& detail = rpc_status.field(i);
    if (detail.number() != kStatusDetails ||
        detail.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    google::protobuf::UnknownFieldSet any;
    if (!any.ParseFromString(detail.length_delimited())) continue;
    std::string type_url, value;
    for (int j = 0; j < any.field_count(); ++j) {
      const auto& f = any.field(j);
      if (f.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) continue;
      if (f.number() == kAnyTypeUrl) type_url = f.length_delimited();
      if (f.number() == kAnyValue) value = f.length_delimited();
    }
    const std::string suffix = "/google.rpc.ErrorInfo";
    if (type_url.size() < suffix.size() ||
        type_url.compare(type_url.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    google::protobuf::UnknownFieldSet info;
    if (!info.ParseFromString(value)) continue;
    std::string reason, domain;
    for (int j = 0; j < info.field_count(); ++j) {
      const auto& f = info.field(j);
      if (f.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) continue;
      if (f.number() == kErrorInfoReason) reason = f.length_delimited();
      if (f.number() == kErrorInfoDomain) domain = f.length_delimited();
    }
    if (domain == "sanas.v1") return reason;
  }
  return "";
}

inline bool IsSearchFinished(const grpc::Status& status) {
  const std::string reason = ErrorReason(status);
  return reason == "ERROR_REASON_BUDGET_EXHAUSTED" || reason == "ERROR_REASON_SPACE_EXHAUSTED";
}

inline bool IsRetryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace sanas
