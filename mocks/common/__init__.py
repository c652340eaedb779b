"""What both fakes share: the request journal, fault rules, the /_fake/ admin API and the two transports."""
