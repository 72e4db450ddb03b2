"""AWS connector: CloudWatch alarm state changes pushed through SNS (alarm actions, or
EventBridge rules targeting the topic), verified by SNS's signature, or posted by an
EventBridge API destination with the connection's credentials; ``slad source setup|check``
through boto3."""

from connectors.aws.alarms import UnmappableMessage, alarm_event
from connectors.aws.config import AwsInstance, parse_instance, parse_instances
from connectors.aws.sns import (
    CertificateCache,
    Envelope,
    InvalidEnvelope,
    UntrustedMessage,
    parse_envelope,
    string_to_sign,
    trusted_url,
    verify,
)
from connectors.aws.source import AwsSource

__all__ = [
    "AwsInstance",
    "AwsSource",
    "CertificateCache",
    "Envelope",
    "InvalidEnvelope",
    "UnmappableMessage",
    "UntrustedMessage",
    "alarm_event",
    "parse_envelope",
    "parse_instance",
    "parse_instances",
    "string_to_sign",
    "trusted_url",
    "verify",
]
