"""Runs Eclipse Paho (Debian's python3-paho-mqtt, 1.6) as a third-party MQTT client for the integration tests.

usage: paho_client.py <host> <port> <tcp|websockets> <3.1.1|5> <username> <password> [<topic> <payload>]
Prints one JSON line: {"connack": <rc>} and, when a topic is given and the connection was accepted, {"published": mid}
once the QoS 1 PUBACK arrived. Exits 0 when it could talk to the broker (whatever the CONNACK said).
"""
import json
import sys

import paho.mqtt.client as mqtt

host, port, transport, version, username, password = sys.argv[1:7]
topic = sys.argv[7] if len(sys.argv) > 7 else None
payload = sys.argv[8] if len(sys.argv) > 8 else None
protocol = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311

client = mqtt.Client(client_id="paho-" + version.replace(".", ""), protocol=protocol, transport=transport)
if transport == "websockets":
    client.ws_set_options(path="/mqtt")
client.username_pw_set(username, password)
state = {"rc": None}


def on_connect(c, userdata, flags, rc, properties=None):
    state["rc"] = int(rc.value) if hasattr(rc, "value") else int(rc)
    print(json.dumps({"connack": state["rc"]}), flush=True)
    if state["rc"] != 0 or topic is None:
        c.disconnect()
        return
    c.publish(topic, payload, qos=1)


def on_publish(c, userdata, mid):
    print(json.dumps({"published": mid}), flush=True)
    c.disconnect()


client.on_connect = on_connect
client.on_publish = on_publish
client.connect(host, int(port), keepalive=30)
client.loop_forever()
