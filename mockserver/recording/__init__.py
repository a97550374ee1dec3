"""Recording a real API (``mockserver record``), fitting a config to a recording (``mockserver fit``) and
replaying one (``--replay``)."""
