"""Alerts: what a finding and its outcome look like in e-mail, AWS Chatbot and Slack; the channels."""
