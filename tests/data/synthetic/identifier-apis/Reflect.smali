# Identifier APIs called by name through reflection, as obfuscated pre-installed code does.
.class public Lcom/phonecert/fixture/Reflect;
.super Ljava/lang/Object;

# Class.forName("android.telephony.TelephonyManager").getMethod("getDeviceId").invoke(tm)
.method public static byClassName(Ljava/lang/Object;)Ljava/lang/Object;
    .registers 5
    const-string v0, "android.telephony.TelephonyManager"
    invoke-static {v0}, Ljava/lang/Class;->forName(Ljava/lang/String;)Ljava/lang/Class;
    move-result-object v0
    const-string v1, "getDeviceId"
    const/4 v2, 0x0
    new-array v3, v2, [Ljava/lang/Class;
    invoke-virtual {v0, v1, v3}, Ljava/lang/Class;->getMethod(Ljava/lang/String;[Ljava/lang/Class;)Ljava/lang/reflect/Method;
    move-result-object v0
    new-array v3, v2, [Ljava/lang/Object;
    invoke-virtual {v0, p0, v3}, Ljava/lang/reflect/Method;->invoke(Ljava/lang/Object;[Ljava/lang/Object;)Ljava/lang/Object;
    move-result-object v0
    return-object v0
.end method

# WifiInfo.class.getDeclaredMethod("getBSSID") and "getSSID": two names, one class.
.method public static byConstClass()Ljava/lang/reflect/Method;
    .registers 4
    const-class v0, Landroid/net/wifi/WifiInfo;
    const-string v1, "getBSSID"
    const/4 v2, 0x0
    new-array v3, v2, [Ljava/lang/Class;
    invoke-virtual {v0, v1, v3}, Ljava/lang/Class;->getDeclaredMethod(Ljava/lang/String;[Ljava/lang/Class;)Ljava/lang/reflect/Method;
    const-string v1, "getSSID"
    invoke-virtual {v0, v1, v3}, Ljava/lang/Class;->getDeclaredMethod(Ljava/lang/String;[Ljava/lang/Class;)Ljava/lang/reflect/Method;
    move-result-object v0
    return-object v0
.end method

# obj.getClass().getMethod("getLastLocation"): the class is not named, so every rule with that
# member name is a candidate (FusedLocationProviderClient and FusedLocationProviderApi).
.method public static byNameOnly(Ljava/lang/Object;)Ljava/lang/reflect/Method;
    .registers 5
    invoke-virtual {p0}, Ljava/lang/Object;->getClass()Ljava/lang/Class;
    move-result-object v0
    const-string v1, "getLastLocation"
    const/4 v2, 0x0
    new-array v3, v2, [Ljava/lang/Class;
    invoke-virtual {v0, v1, v3}, Ljava/lang/Class;->getMethod(Ljava/lang/String;[Ljava/lang/Class;)Ljava/lang/reflect/Method;
    move-result-object v0
    return-object v0
.end method

# Settings.Secure.getString by reflection counts only with the "android_id" argument, as the
# direct call does.
.method public static androidId(Ljava/lang/Object;)Ljava/lang/Object;
    .registers 6
    const-string v0, "android.provider.Settings$Secure"
    invoke-static {v0}, Ljava/lang/Class;->forName(Ljava/lang/String;)Ljava/lang/Class;
    move-result-object v0
    const-string v1, "getString"
    const/4 v2, 0x0
    new-array v3, v2, [Ljava/lang/Class;
    invoke-virtual {v0, v1, v3}, Ljava/lang/Class;->getMethod(Ljava/lang/String;[Ljava/lang/Class;)Ljava/lang/reflect/Method;
    move-result-object v0
    const/4 v2, 0x2
    new-array v3, v2, [Ljava/lang/Object;
    const/4 v2, 0x1
    const-string v4, "android_id"
    aput-object v4, v3, v2
    invoke-virtual {v0, p0, v3}, Ljava/lang/reflect/Method;->invoke(Ljava/lang/Object;[Ljava/lang/Object;)Ljava/lang/Object;
    move-result-object v0
    return-object v0
.end method

# Not reported: the same lookup of another setting.
.method public static otherSetting(Ljava/lang/Object;)Ljava/lang/Object;
    .registers 6
    const-string v0, "android.provider.Settings$Secure"
    invoke-static {v0}, Ljava/lang/Class;->forName(Ljava/lang/String;)Ljava/lang/Class;
    move-result-object v0
    const-string v1, "getString"
    const/4 v2, 0x0
    new-array v3, v2, [Ljava/lang/Class;
    invoke-virtual {v0, v1, v3}, Ljava/lang/Class;->getMethod(Ljava/lang/String;[Ljava/lang/Class;)Ljava/lang/reflect/Method;
    move-result-object v0
    const/4 v2, 0x2
    new-array v3, v2, [Ljava/lang/Object;
    const/4 v2, 0x1
    const-string v4, "bluetooth_name"
    aput-object v4, v3, v2
    invoke-virtual {v0, p0, v3}, Ljava/lang/reflect/Method;->invoke(Ljava/lang/Object;[Ljava/lang/Object;)Ljava/lang/Object;
    move-result-object v0
    return-object v0
.end method

# Not reported: a rule's member name without any reflective call (a log message).
.method public static logOnly()Ljava/lang/String;
    .registers 1
    const-string v0, "getImei"
    return-object v0
.end method
