# Direct calls of the identifier APIs added in identifier-apis.toml 1.1.0 (issue 13).
.class public Lcom/phonecert/fixture/Direct;
.super Ljava/lang/Object;

.method public static cells(Landroid/telephony/TelephonyManager;Ljava/util/concurrent/Executor;Landroid/telephony/TelephonyManager$CellInfoCallback;)V
    .registers 3
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getCellLocation()Landroid/telephony/CellLocation;
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getAllCellInfo()Ljava/util/List;
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getAllCellInfo()Ljava/util/List;
    invoke-virtual {p0, p1, p2}, Landroid/telephony/TelephonyManager;->requestCellInfoUpdate(Ljava/util/concurrent/Executor;Landroid/telephony/TelephonyManager$CellInfoCallback;)V
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getNeighboringCellInfo()Ljava/util/List;
    return-void
.end method

.method public static device(Landroid/telephony/TelephonyManager;)V
    .registers 2
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getDeviceSoftwareVersion()Ljava/lang/String;
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getTypeAllocationCode()Ljava/lang/String;
    const/4 v0, 0x1
    invoke-virtual {p0, v0}, Landroid/telephony/TelephonyManager;->getTypeAllocationCode(I)Ljava/lang/String;
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getManufacturerCode()Ljava/lang/String;
    return-void
.end method

.method public static carrier(Landroid/telephony/TelephonyManager;)V
    .registers 2
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getSimOperator()Ljava/lang/String;
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getSimOperatorName()Ljava/lang/String;
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getNetworkOperator()Ljava/lang/String;
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getNetworkOperatorName()Ljava/lang/String;
    # A hidden per-subscription overload: the rules name the public ()String prototype only.
    const/4 v0, 0x1
    invoke-virtual {p0, v0}, Landroid/telephony/TelephonyManager;->getSimOperator(I)Ljava/lang/String;
    return-void
.end method

.method public static wifi(Landroid/net/wifi/WifiManager;)V
    .registers 2
    # getConnectionInfo is not a rule; the getters on the WifiInfo it returns are.
    invoke-virtual {p0}, Landroid/net/wifi/WifiManager;->getConnectionInfo()Landroid/net/wifi/WifiInfo;
    move-result-object v0
    invoke-virtual {v0}, Landroid/net/wifi/WifiInfo;->getBSSID()Ljava/lang/String;
    invoke-virtual {v0}, Landroid/net/wifi/WifiInfo;->getSSID()Ljava/lang/String;
    invoke-virtual {p0}, Landroid/net/wifi/WifiManager;->getScanResults()Ljava/util/List;
    invoke-virtual {p0}, Landroid/net/wifi/WifiManager;->getConfiguredNetworks()Ljava/util/List;
    return-void
.end method

.method public static number(Landroid/telephony/SubscriptionManager;)V
    .registers 2
    const/4 v0, 0x1
    invoke-virtual {p0, v0}, Landroid/telephony/SubscriptionManager;->getPhoneNumber(I)Ljava/lang/String;
    return-void
.end method
